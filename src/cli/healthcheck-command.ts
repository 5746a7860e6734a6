// `edge-runner healthcheck`: exit 0 when the local status endpoint answers 200. Without --wait it
// asks /readyz once (connected and taking jobs); with --wait it polls /healthz (process up, loops
// ticking) until the timeout, which is what systemd's ExecStartPost waits for at start-up.

import { parseDuration } from "../config/duration.ts";
import { optionsHelp } from "../config/help.ts";
import { resolveConfig } from "../config/resolve.ts";
import { startOpsCommand } from "../ops/command-flags.ts";
import { probeOnce, waitUntilHealthy } from "../ops/health-probe.ts";
import { statusBaseUrl } from "../ops/status-url.ts";
import type { Timers } from "../util/time.ts";
import { EXIT, commandOutput, type Command, type CommandOutput } from "./command.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";

const HELP = `Usage: edge-runner healthcheck [--wait] [--timeout 90s] [--path /readyz|/healthz] [options]

Exit 0 when the runner's local status endpoint (statusHost:statusPort) answers 200.
  --wait            Poll until it answers 200 or --timeout passes (default path /healthz).
  --timeout <dur>   How long --wait polls (default 90s).
  --path <path>     Endpoint to ask: /readyz (default without --wait) or /healthz.
`;

export interface HealthcheckDeps extends CommandOutput {
  env?: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  timers?: Pick<Timers, "now" | "sleep">;
}

export function createHealthcheckCommand(deps: HealthcheckDeps = {}): Command {
  const { out, err } = commandOutput(deps);
  return {
    name: "healthcheck",
    summary: "Exit 0 when the local status endpoint says ready (--wait to wait for it).",
    async run(args) {
      const taken = startOpsCommand("healthcheck", `${HELP}\n${optionsHelp(["runner"])}\n`, args, { "--wait": "bool", "--timeout": "string", "--path": "string" }, { out, err });
      if ("exit" in taken) return taken.exit;
      const wait = taken.flags.has("--wait");
      const path = String(taken.flags.get("--path") ?? (wait ? "/healthz" : "/readyz"));
      const timeoutMs = parseDuration(String(taken.flags.get("--timeout") ?? "90s"));
      if (timeoutMs === undefined) {
        err(`edge-runner healthcheck: invalid value "${String(taken.flags.get("--timeout"))}" for "--timeout": expected a duration such as "90s"\n`);
        return EXIT.usage;
      }
      if (path !== "/readyz" && path !== "/healthz") {
        err(`edge-runner healthcheck: invalid value "${path}" for "--path": expected "/readyz" or "/healthz"\n`);
        return EXIT.usage;
      }
      const { config } = resolveConfig({ scopes: ["runner"], argv: taken.rest, env: deps.env ?? process.env, readFile: readConfigText });
      let url: string;
      try {
        url = statusBaseUrl(config.statusHost, config.statusPort) + path;
      } catch (error) {
        err(`edge-runner healthcheck: ${errorMessage(error)}\n`);
        return EXIT.config;
      }
      const probe = { url, ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }) };
      const result = wait ? await waitUntilHealthy({ ...probe, timeoutMs, ...(deps.timers === undefined ? {} : { timers: deps.timers }) }) : await probeOnce(probe);
      if (result.ok) {
        out(`${url}: OK\n`);
        return EXIT.ok;
      }
      err(`edge-runner healthcheck: ${url}: ${result.reason}${wait ? ` (waited ${Math.round(timeoutMs / 1000)} s)` : ""}\n`);
      return EXIT.unavailable;
    },
  };
}

export const healthcheckCommand: Command = createHealthcheckCommand();
