// `edge-runner dev` (and `npm start`): a reference controller and a runner in one process, with
// state under ./.edge-runner. Submits a demo job, prints its result and the status page URL,
// and keeps running for more jobs until Ctrl-C.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { optionsHelp } from "../config/help.ts";
import { resolveConfig } from "../config/resolve.ts";
import { Logger } from "../log/logger.ts";
import { ReferenceController } from "../reference-controller/controller.ts";
import { controllerOptionsFromConfig } from "../reference-controller/server-config.ts";
import { startRunnerService } from "./runner-service.ts";
import { EXIT, type Command } from "./command.ts";
import { onStopSignals } from "./signals.ts";
import { readConfigText } from "../config/read-config-text.ts";

const DEV_RUNNER_ID = "dev-runner";

export const devCommand: Command = {
  name: "dev",
  summary: "Run a controller and a runner in one process, with a demo job (npm start).",
  async run(args) {
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(`Usage: edge-runner dev [options]\n\nRuns the reference controller and a runner together, state in --data-dir.\n\n${optionsHelp(["runner", "controller"])}\n`);
      return EXIT.ok;
    }
    const { config } = resolveConfig({
      scopes: ["runner", "controller"],
      argv: args,
      env: process.env,
      readFile: readConfigText,
    });
    const logger = new Logger({ level: config.logLevel, format: config.logFormat });
    const dataDir = path.resolve(config.dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });

    const controller = await ReferenceController.start({ ...controllerOptionsFromConfig(config, logger), dataDir });

    // The dev runner's API key lives beside the controller state, created once, mode 0600.
    const keyFile = path.join(dataDir, "dev-runner.api-key");
    if (!existsSync(keyFile) || !controller.listRunners().some((r) => r.id === DEV_RUNNER_ID)) {
      const rotate = controller.listRunners().some((r) => r.id === DEV_RUNNER_ID);
      const { apiKey } = await controller.registerRunner({ id: DEV_RUNNER_ID, group: config.group, ...(rotate ? { rotate: true } : {}) });
      writeFileSync(keyFile, apiKey + "\n", { mode: 0o600 });
    }

    // A part that fails to start stops the parts already running, so the command exits with the
    // failure's code (main maps it) instead of staying half-started.
    const service = await startRunnerService(
      { ...config, runnerId: DEV_RUNNER_ID, apiKeyFile: keyFile, controllerUrl: [controller.url], startJitterMs: 0 },
      logger,
    ).catch(async (error: unknown) => {
      await controller.close().catch(() => undefined);
      throw error;
    });

    const demo = controller.submitJob({ plugin: "echo", action: "default", input: { hello: "edge-runner", at: new Date().toISOString() }, group: config.group });
    const result = await controller.waitForJob(demo.id, 30_000);
    const out = process.stdout;
    out.write(`
edge-runner dev is running.
  controller   ${controller.url}   (admin token in ${path.join(controller.dataDir, "admin-token")})
  status page  ${service.status.url}/
  demo job     ${result.id}: ${result.status}${result.output !== undefined ? ` → ${JSON.stringify(result.output)}` : ""}${result.error ? ` (${result.error.code}: ${result.error.message})` : ""}

Submit more jobs from another terminal:
  npm run -s cli -- job submit echo --input '{"n":1}' --wait --controller-url ${controller.url} --data-dir ${config.dataDir}
Press Ctrl-C to stop (twice to interrupt running jobs).
`);

    await new Promise<void>((resolve) => {
      onStopSignals({
        first: () => {
          logger.info("Stopping: draining the runner, then the controller");
          void service.stop().then(() => controller.close()).then(resolve);
        },
        second: () => void service.stop(),
      });
    });
    return EXIT.ok;
  },
};
