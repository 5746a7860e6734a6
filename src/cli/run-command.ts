// `edge-runner run`: the runner as a long-running service. First SIGTERM/SIGINT drains, a
// second one interrupts running jobs at once.

import { optionsHelp } from "../config/help.ts";
import { resolveConfig } from "../config/resolve.ts";
import { secretFlagWarning } from "../config/secret-flag-warning.ts";
import { Logger } from "../log/logger.ts";
import { startRunnerService, runnerCredentials } from "./runner-service.ts";
import { EXIT, type Command } from "./command.ts";
import { onStopSignals } from "./signals.ts";
import { readConfigText } from "../config/read-config-text.ts";

export const runCommand: Command = {
  name: "run",
  summary: "Run the runner: connect to the controller and run jobs.",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(`Usage: edge-runner run [options]\n\n${optionsHelp(["runner"])}\n`);
      return EXIT.ok;
    }
    const { config, secretFlags } = resolveConfig({ scopes: ["runner"], argv: args, env: process.env, readFile: readConfigText });
    // Fail on a missing id or key before anything starts.
    if (config.controllerKind === "meshstack") (await import("../controller/meshstack/from-config.ts")).meshstackSettings(config);
    else runnerCredentials(config);
    const logger = new Logger({ level: config.logLevel, format: config.logFormat });
    for (const flag of secretFlags) logger.warn(secretFlagWarning(flag));
    const service = await startRunnerService(config, logger);
    const stopped = new Promise<void>((resolve) => {
      onStopSignals({
        first: (signal) => {
          logger.info(`Received ${signal}: draining (send it again to interrupt running jobs)`);
          void service.stop().then(resolve);
        },
        second: (signal) => {
          logger.warn(`Received ${signal} again: interrupting running jobs`);
          void service.stop();
        },
      });
    });
    await stopped;
    logger.info("Runner stopped");
    return service.runner.lifecycle.state === "failed" ? EXIT.failure : EXIT.ok;
  },
};
