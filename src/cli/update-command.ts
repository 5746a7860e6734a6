// `edge-runner update`: replace this executable with the verified release for this machine,
// only while the local runner runs no job; a busy runner exits 75 (try again later), never forced.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { promisify } from "node:util";
import { optionsHelp } from "../config/help.ts";
import { resolveConfig } from "../config/resolve.ts";
import { EdgeError, errorMessage } from "../errors.ts";
import { startOpsCommand } from "../ops/command-flags.ts";
import { assetFor } from "../ops/release-assets.ts";
import { statusBaseUrl } from "../ops/status-url.ts";
import { loadTrustedReleaseKeys } from "../ops/trusted-release-keys.ts";
import { runUpdate, versionOf, type UpdateOptions } from "../ops/update.ts";
import { isCompiled } from "../platform/runtime.ts";
import { VERSION } from "../version.ts";
import { EXIT, commandOutput, type Command, type CommandOutput } from "./command.ts";
import { readConfigText } from "../config/read-config-text.ts";

/** sysexits.h EX_TEMPFAIL: jobs are running, try again later. */
export const EXIT_BUSY = 75;

const HELP = `Usage: edge-runner update [--dry-run] [--allow-downgrade] [--restart] [--target PATH] [--from-dir DIR] [options]

Downloads SHA256SUMS, SHA256SUMS.jws and the executable for this machine from releaseBaseUrl,
verifies the signature against the release key built into this executable and the checksum,
and swaps the executable atomically when the local runner (statusHost:statusPort) runs no job.
Exits 75 when jobs are running: nothing is changed, try again later.
  --dry-run          Verify and say what would change; change nothing.
  --allow-downgrade  Accept a release older than the installed one.
  --restart          After the swap, run "systemctl try-restart edge-runner" (drains first).
  --target PATH      Executable to replace (default: this executable).
  --from-dir DIR     Take the release files from a directory instead of releaseBaseUrl.
`;

export interface UpdateDeps extends CommandOutput {
  env?: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  activity?: UpdateOptions["activity"];
}

export function createUpdateCommand(deps: UpdateDeps = {}): Command {
  const { out, err } = commandOutput(deps);
  return {
    name: "update",
    summary: "Replace this executable with a verified newer release, while no job runs.",
    async run(args) {
      const taken = startOpsCommand("update", `${HELP}\n${optionsHelp(["runner"], "update")}\n`, args, { "--dry-run": "bool", "--allow-downgrade": "bool", "--restart": "bool", "--target": "string", "--from-dir": "string" }, { out, err });
      if ("exit" in taken) return taken.exit;
      const { config } = resolveConfig({ scopes: ["runner"], argv: taken.rest, env: deps.env ?? process.env, readFile: readConfigText });
      const flag = (name: string) => taken.flags.get(name) as string | undefined;
      try {
        const given = flag("--target") ?? (isCompiled ? process.execPath : undefined);
        if (given === undefined) {
          throw new EdgeError("input_invalid", `Cannot update: this is not the compiled executable; pass --target PATH, or update the Node/Deno bundle by reinstalling it`);
        }
        const target = await realpath(given).catch((error: unknown) => {
          throw new EdgeError("input_invalid", `Cannot update "${given}": ${errorMessage(error)}`);
        });
        const outcome = await runUpdate({
          source: flag("--from-dir") ?? config.releaseBaseUrl,
          asset: assetFor(process.platform, process.arch),
          keys: await loadTrustedReleaseKeys(config.releasePublicKeyFile),
          target,
          currentVersion: isCompiled && target === process.execPath ? VERSION : await versionOf(target, `the installed "${target}"`),
          statusUrl: statusBaseUrl(config.statusHost, config.statusPort),
          allowDowngrade: taken.flags.has("--allow-downgrade"),
          dryRun: taken.flags.has("--dry-run"),
          ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
          ...(deps.activity === undefined ? {} : { activity: deps.activity }),
        });
        switch (outcome.kind) {
          case "up_to_date":
            out(`"${target}" is already the latest release (${outcome.version}).\n`);
            return EXIT.ok;
          case "would_update":
            out(`Would update "${target}" from ${outcome.from} to ${outcome.to} (dry run: nothing changed).\n`);
            return EXIT.ok;
          case "busy":
            err(`edge-runner update: not now: the runner is running ${outcome.jobIds.length} job(s) (${outcome.jobIds.map((id) => `"${id}"`).join(", ")}); nothing was changed, try again later.\n`);
            return EXIT_BUSY;
          case "updated":
            out(`Updated "${target}" from ${outcome.from} to ${outcome.to}${outcome.previous === undefined ? "" : ` (previous kept as "${outcome.previous}")`}.\n`);
            return taken.flags.has("--restart") ? restart(out, err) : (out(`Restart the runner to use it: systemctl restart edge-runner (it drains running jobs first).\n`), EXIT.ok);
        }
      } catch (error) {
        if (error instanceof RangeError || error instanceof EdgeError) {
          err(`edge-runner update: ${error.message}; nothing was changed.\n`);
          return EXIT.failure;
        }
        throw error;
      }
    },
  };
}

async function restart(out: (t: string) => void, err: (t: string) => void): Promise<number> {
  if (!existsSync("/run/systemd/system")) {
    err(`edge-runner update: systemd is not running here; restart the runner yourself.\n`);
    return EXIT.failure;
  }
  try {
    await promisify(execFile)("systemctl", ["try-restart", "edge-runner.service"], { timeout: 300_000 });
    out(`Restarted edge-runner.service.\n`);
    return EXIT.ok;
  } catch (error) {
    err(`edge-runner update: the new executable is in place but "systemctl try-restart edge-runner.service" failed: ${errorMessage(error)}\n`);
    return EXIT.failure;
  }
}

export const updateCommand: Command = createUpdateCommand();
