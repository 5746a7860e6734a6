// The edge-runner executable: one table of sub-commands, each loaded only when it is used so
// `--version` and `--help` start instantly.

import { COMMIT, VERSION } from "../version.ts";
import { runtime } from "../platform/runtime.ts";
import type { Command } from "./command.ts";
import { EXIT } from "./command.ts";
import { ConfigError, EX_CONFIG } from "../config/resolve.ts";
import { EdgeError } from "../errors.ts";
import { UsageError, nearest } from "../config/usage-error.ts";

type Loader = () => Promise<Command>;

const COMMANDS: Record<string, { summary: string; load: Loader }> = {
  run: { summary: "Run the runner: connect to the controller and run jobs.", load: async () => (await import("./run-command.ts")).runCommand },
  controller: { summary: "Run the reference controller.", load: async () => (await import("./controller-command.ts")).controllerCommand },
  dev: { summary: "Run a controller and a runner in one process, with a demo job (npm start).", load: async () => (await import("./dev-command.ts")).devCommand },
  job: { summary: "Submit, inspect, cancel jobs and read their logs: job submit|get|list|cancel|logs.", load: async () => (await import("./job-command.ts")).jobCommand },
  runner: { summary: "Register and list runners on the reference controller: runner register|list.", load: async () => (await import("./runner-admin-command.ts")).runnerAdminCommand },
  secret: { summary: "Store, list and delete secrets jobs resolve by reference: secret set|list|delete.", load: async () => (await import("./secret-command.ts")).secretCommand },
  keygen: { summary: "Create the runner key pair, or a plugin signing key pair with --signing.", load: async () => (await import("./keygen-command.ts")).keygenCommand },
  keys: { summary: "The runner's key ring for encrypted inputs: keys list|rotate|retire.", load: async () => (await import("./keys-command.ts")).keysCommand },
  plugin: { summary: "Plugin author tools: plugin init|test|build|sign|verify|publish|run.", load: async () => (await import("./plugin-command.ts")).pluginCommand },
  doctor: { summary: "Check config, keys, controller reachability, TLS and authentication.", load: async () => (await import("./doctor-command.ts")).doctorCommand },
  update: { summary: "Replace this executable with a verified newer release, while no job runs.", load: async () => (await import("./update-command.ts")).updateCommand },
  healthcheck: { summary: "Exit 0 when the local status endpoint says ready (--wait to wait for it).", load: async () => (await import("./healthcheck-command.ts")).healthcheckCommand },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `edge-runner ${VERSION}: a self-hosted runner for automation platforms.

Usage: edge-runner <command> [options]

Commands:
${rows.join("\n")}

Run "edge-runner <command> --help" for a command's options.
  --version  Print the version and build commit.
`;
}

/** sysexits.h EX_CANTCREAT: a file the command must write cannot be. */
const EX_CANTCREAT = 73;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`edge-runner ${VERSION} (commit ${COMMIT}, ${runtime})\n`);
    return EXIT.ok;
  }
  // Hidden: the plugin host child of process isolation mode (src/plugins/process-worker.ts). It
  // runs until the runner closes the IPC channel, so this promise never settles.
  if (name === "__plugin-host") {
    await import("../plugins/process-entry.ts");
    return new Promise<number>(() => undefined);
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    const near = nearest(name, Object.keys(COMMANDS));
    process.stderr.write(`Unknown command "${name}"${near === undefined ? "" : ` (did you mean "${near}"?)`}.\n\n${usage()}`);
    return EXIT.usage;
  }
  try {
    const command = await entry.load();
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`edge-runner ${name}: ${error.message}\nRun "edge-runner ${name} --help" for the accepted options.\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`edge-runner ${name}: configuration error: ${error.message}\n`);
      return EX_CONFIG;
    }
    if (error instanceof EdgeError && (error.code === "store_unavailable" || error.code === "store_full")) {
      // One clear line, no stack: a data directory that cannot be written is the operator's to fix.
      process.stderr.write(`edge-runner ${name}: ${error.message}\n`);
      return EX_CANTCREAT;
    }
    // Expected failures (a port or a data directory in use, …) read as one line, never a stack.
    if (error instanceof EdgeError) {
      process.stderr.write(`edge-runner ${name}: ${error.message}\n`);
      return error.code === "listen_failed" || error.code === "conflict" ? EXIT.unavailable : EXIT.failure;
    }
    throw error;
  }
}
