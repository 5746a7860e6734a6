// The edge-runner executable: one table of sub-commands, each loaded only when it is used so
// `--version` and `--help` start instantly.

import { PLUGIN_HOST_COMMAND } from "../platform/plugin-host-command.ts";
import { COMMIT, VERSION } from "../version.ts";
import { endStartupJitPolicy, runtime } from "../platform/runtime.ts";
import type { Command } from "./command.ts";
import { EXIT } from "./command.ts";
import { ConfigError, EX_CONFIG } from "../config/resolve.ts";
import { EdgeError } from "../errors.ts";
import { UsageError, nearest } from "../config/usage-error.ts";

type Loader = () => Promise<Command>;

export interface CommandEntry {
  summary: string;
  /** Its sub-commands, shown as `job submit|get|…` in help and docs/cli.md and checked by the docs test. */
  subcommands?: readonly string[];
  load: Loader;
}

/** The one table of commands: `--help`, docs/cli.md (scripts/gen-cli-doc.ts) and the docs test come from it. */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: { summary: "Run the runner: connect to the controller and run jobs.", load: async () => (await import("./run-command.ts")).runCommand },
  controller: { summary: "Run the reference controller.", load: async () => (await import("./controller-command.ts")).controllerCommand },
  dev: { summary: "Run a controller and a runner in one process, with a demo job (npm start).", load: async () => (await import("./dev-command.ts")).devCommand },
  job: { summary: "Submit, inspect, cancel, approve or reject jobs, read their logs and artifacts.", subcommands: ["submit", "get", "list", "cancel", "approve", "reject", "logs", "artifacts", "artifact"], load: async () => (await import("./job-command.ts")).jobCommand },
  runner: { summary: "Register, list and delete runners on the reference controller.", subcommands: ["register", "list", "delete"], load: async () => (await import("./runner-admin-command.ts")).runnerAdminCommand },
  secret: { summary: "Store, list and delete secrets jobs resolve by reference.", subcommands: ["set", "list", "delete"], load: async () => (await import("./secret-command.ts")).secretCommand },
  keygen: { summary: "Create the runner key pair, or a plugin signing key pair with --signing.", load: async () => (await import("./keygen-command.ts")).keygenCommand },
  keys: { summary: "The runner's key ring for encrypted inputs, and its certificate for meshStack.", subcommands: ["list", "rotate", "retire", "cert"], load: async () => (await import("./keys-command.ts")).keysCommand },
  plugin: { summary: "Plugin author tools.", subcommands: ["init", "test", "build", "sign", "verify", "publish", "run"], load: async () => (await import("./plugin-command.ts")).pluginCommand },
  doctor: { summary: "Check config, keys, controller reachability, TLS and authentication.", load: async () => (await import("./doctor-command.ts")).doctorCommand },
  update: { summary: "Replace this executable with a verified newer release, while no job runs.", load: async () => (await import("./update-command.ts")).updateCommand },
  healthcheck: { summary: "Exit 0 when the local runner is ready (/readyz); with --wait, wait until it is up (/healthz).", load: async () => (await import("./healthcheck-command.ts")).healthcheckCommand },
};

/** `job submit|get|list|cancel|logs`, or just `run`. */
export function commandSynopsis(name: string): string {
  const subs = COMMANDS[name]?.subcommands;
  return subs === undefined ? name : `${name} ${subs.join("|")}`;
}

export function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const rows = names.map((name) => {
    const { summary, subcommands } = COMMANDS[name]!;
    return `  ${name.padEnd(width)}  ${summary}${subcommands === undefined ? "" : `\n  ${" ".repeat(width)}  ${commandSynopsis(name)}`}`;
  });
  return `edge-runner ${VERSION}: a self-hosted runner for automation platforms.

Usage: edge-runner <command> [options]

Commands:
${rows.join("\n")}

Run "edge-runner <command> --help" for a command's options.
  --version  Print the version and build commit.
`;
}

/** docs/cli.md's table (scripts/gen-cli-doc.ts writes it; test/cli/docs-commands.test.ts keeps it current). */
export function commandsMarkdown(): string {
  const rows = Object.keys(COMMANDS).map((name) => `| \`edge-runner ${commandSynopsis(name).replaceAll("|", "\\|")}\` | ${COMMANDS[name]!.summary} |`);
  return ["| command | what it does |", "| --- | --- |", ...rows, "| `edge-runner --version` | Print the version and build commit. |"].join("\n");
}

/** sysexits.h EX_CANTCREAT: a file the command must write cannot be. */
const EX_CANTCREAT = 73;

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  // console.log, not process.stdout.write: on Bun the first touch of process.stdout builds a
  // Node stream, which doubled what `--version` costs (docs/performance.md, start-up).
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage().trimEnd());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(`edge-runner ${VERSION} (commit ${COMMIT}, ${runtime})`);
    return EXIT.ok;
  }
  // Hidden: the plugin host child of process isolation mode (src/plugins/process-worker.ts). It
  // runs until the runner closes the IPC channel, so this promise never settles.
  if (name === PLUGIN_HOST_COMMAND) {
    // A fresh start of the executable: its main thread runs plugin code for its whole life, so
    // the JIT's normal thresholds come back now (scripts/build.ts, STARTUP_JIT_POLICY).
    endStartupJitPolicy();
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
    // Expected failures (a port or a data directory in use, …) read as one line, never a stack;
    // a file the command cannot use as it stands (a key, a store file over its cap) is a config
    // error (78), as commandErrorExit() says for the commands that print their own usage.
    if (error instanceof EdgeError) {
      process.stderr.write(`edge-runner ${name}: ${error.message}\n`);
      if (error.code === "config_invalid") return EX_CONFIG;
      return error.code === "listen_failed" || error.code === "conflict" ? EXIT.unavailable : EXIT.failure;
    }
    throw error;
  }
}
