// `edge-runner controller`: the reference controller as a long-running service; prints its URL
// and stops cleanly on SIGINT/SIGTERM.

import { readFileSync } from "node:fs";
import { optionsHelp } from "../config/help.ts";
import { resolveConfig, type Config } from "../config/resolve.ts";
import { Logger, type LogLevel } from "../log/logger.ts";
import { ReferenceController } from "../reference-controller/controller.ts";
import { controllerOptionsFromConfig } from "../reference-controller/server-config.ts";
import { EXIT, type Command } from "./command.ts";
import { onStopSignals } from "./signals.ts";

const USAGE = `Usage: edge-runner controller [options]

Runs the reference controller: the edge protocol for runners (/edge/v1) and the admin API
(/api/v1) on --listen-host:--listen-port, state in <dataDir>/controller/. The admin token is
created in <dataDir>/controller/admin-token on first start unless --admin-token(-file) is given.
`;

export const controllerCommand: Command = {
  name: "controller",
  summary: "Run the reference controller.",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(`${USAGE}\n${optionsHelp(["controller"])}\n`);
      return EXIT.ok;
    }
    const { config } = resolveConfig({ scopes: ["controller"], argv: args, env: process.env, readFile: (p) => readFileSync(p, "utf8") });
    const logger = new Logger({ level: config.logLevel as LogLevel, format: config.logFormat as "auto" | "json" | "text" });
    const stop = new AbortController();
    const unsubscribe = onStopSignals({
      first: (signal) => {
        logger.info(`Received ${signal}: stopping the controller`);
        stop.abort();
      },
      second: () => process.exit(130),
    });
    try {
      return await runController(config, logger, stop.signal);
    } finally {
      unsubscribe();
    }
  },
};

/**
 * Starts the controller from resolved config and runs it until `signal` aborts. A failed journal
 * write stops it with exit code 1 (systemd restarts it; a restart replays what is on disk).
 */
export async function runController(config: Config, logger: Logger, signal: AbortSignal): Promise<number> {
  const controller = await ReferenceController.start(controllerOptionsFromConfig(config, logger));
  let failed = false;
  const failure = new Promise<void>((resolve) =>
    controller.core.store.commits.onFailure((error) => {
      failed = true;
      logger.error(`Stopping: the controller's journal cannot be written: ${error.message}`);
      resolve();
    }),
  );
  process.stdout.write(`Reference controller listening on ${controller.url}\n`);
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([stopped, failure]);
  await controller.close().catch((error: unknown) => logger.error(`Controller did not close cleanly: ${(error as Error).message}`));
  return failed ? EXIT.failure : EXIT.ok;
}
