#!/usr/bin/env node
// Entry point of the executable (compiled binary, Node/Deno bundle, or `bun src/main.ts`).

import { main } from "./cli/main.ts";
import { redactor } from "./log/redact.ts";
import { PLUGIN_HOST_COMMAND } from "./platform/plugin-host-command.ts";

const describe = (error: unknown): string => redactor.text(error instanceof Error ? (error.stack ?? error.message) : String(error));

// A promise somebody forgot to handle is a bug, but not a reason to drop every running job:
// say it loudly and keep going. An uncaught exception may have left state half-changed, so that
// one ends the process (systemd restarts it; the controller re-queues its leases). The plugin
// host child (`__plugin-host`) has handlers of its own that fail only the plugin's job.
if (process.argv[2] !== PLUGIN_HOST_COMMAND) {
  process.on("unhandledRejection", (reason) => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: "error", msg: "Unhandled promise rejection (a bug; the process goes on)", error: describe(reason) })}\n`);
  });
  process.on("uncaughtException", (error) => {
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), level: "error", msg: "Uncaught exception: stopping", error: describe(error) })}\n`);
    process.exit(70);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`edge-runner: ${describe(error)}\n`);
    process.exitCode = 1;
  },
);
