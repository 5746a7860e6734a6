// `edge-runner controller`: the reference controller as a long-running service; prints its URL
// and stops cleanly on SIGINT/SIGTERM.

import { optionsHelp } from "../config/help.ts";
import { resolveConfig, type Config } from "../config/resolve.ts";
import { secretFlagWarning } from "../config/secret-flag-warning.ts";
import { Logger, type LogLevel } from "../log/logger.ts";
import { ReferenceController } from "../reference-controller/controller.ts";
import { controllerOptionsFromConfig } from "../reference-controller/server-config.ts";
import { EXIT, type Command } from "./command.ts";
import { onStopSignals } from "./signals.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";
import { endStartupJitPolicy } from "../platform/runtime.ts";

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
    const { config, secretFlags } = resolveConfig({ scopes: ["controller"], argv: args, env: process.env, readFile: readConfigText });
    const logger = new Logger({ level: config.logLevel as LogLevel, format: config.logFormat as "auto" | "json" | "text" });
    for (const flag of secretFlags) logger.warn(secretFlagWarning(flag));
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
 * Starts the controller from resolved config and runs it until `signal` aborts. When its store
 * cannot be written it keeps serving reads and health (`failed`, with the reason) and refuses
 * changes; once writing works again it exits with 75 (EX_TEMPFAIL) so that systemd restarts it
 * and the restart replays what is on disk. It never exits in a loop on a full disk.
 */
export async function runController(config: Config, logger: Logger, signal: AbortSignal, spaceProbeMs?: number): Promise<number> {
  let writable: () => void = () => {};
  const storeWritable = new Promise<void>((resolve) => (writable = resolve));
  const controller = await ReferenceController.start({
    ...controllerOptionsFromConfig(config, logger),
    onStoreWritable: () => writable(),
    ...(spaceProbeMs === undefined ? {} : { spaceProbeMs }),
  });
  controller.core.store.commits.onFailure((error) => {
    logger.error(`The controller's store cannot be written (${error.message}): refusing changes, serving reads, waiting for the disk`);
  });
  endStartupJitPolicy();
  process.stdout.write(`Reference controller listening on ${controller.url}\n`);
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const restart = await Promise.race([stopped.then(() => false), storeWritable.then(() => true)]);
  if (restart) logger.warn("Exiting (75) so that the service manager restarts the controller from its journal");
  await controller.close().catch((error: unknown) => logger.error(`Controller did not close cleanly: ${errorMessage(error)}`));
  return restart ? EXIT_TEMPFAIL : EXIT.ok;
}

/** sysexits.h EX_TEMPFAIL: the store can be written again; a restart picks up from disk. */
export const EXIT_TEMPFAIL = 75;
