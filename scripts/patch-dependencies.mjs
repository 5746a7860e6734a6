// Runs after `npm ci` / `npm install` (the root package's postinstall): applies the fixes our
// dependencies have not released yet, to the files in node_modules that tests, `npm start` and
// every build (compiled binary, Node and Deno bundles) load. Each patch is exact and idempotent:
// when the text it replaces is gone (the dependency changed), it fails loudly, so an upgrade
// is reviewed against the patch instead of silently losing it.
//
// postgres 3.4.9, porsager/postgres#1066, #1154, #1208 (fix proposed in #1209, not released):
// a write scheduled or made after the connection closed dereferences a null socket and throws
// from a setImmediate callback, an uncaught exception that ends the process. The reference
// controller's database restarting would take the controller down with it. The guard settles
// the write as the driver's own close path does: the query is rejected with CONNECTION_CLOSED.
//
// postgres 3.4.9, same write path (described in LanternOps/breeze#3225, not fixed upstream): a
// connection whose socket closes while a write waits for its setImmediate cancels that immediate
// but keeps its handle and the unsent bytes, and a write only schedules a flush when no handle is
// set. Every later connect of that connection appends its startup message behind the dead
// socket's bytes and never sends it: CONNECT_TIMEOUT, again and again, with the server up. Two
// backends dying in one read of the event loop (a database restart) leave such a connection; the
// controller's reload after a restart went through it and stayed `failed` for minutes
// (test/reliability/postgres-restart.test.ts, about 1 run in 30 beside CPU burners). Closing and
// terminating now drop both, as a completed write does.

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MARK = "edge-runner patch: porsager/postgres#1208";
const STALE_WRITE_MARK = "edge-runner patch: a closed socket's pending write";
const CONNECTION_FILES = ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"];

const PATCHES = [
  {
    files: CONNECTION_FILES,
    mark: MARK,
    find: "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n",
    replace:
      "  function nextWrite(fn) {\n" +
      `    if (!socket) { // ${MARK}\n` +
      "      chunk = nextWriteTimer = null\n" +
      "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
      "      return false\n" +
      "    }\n" +
      "    const x = socket.write(chunk, fn)\n",
  },
  {
    files: CONNECTION_FILES,
    mark: `${STALE_WRITE_MARK} (closed)`,
    find: "    incomings = null\n    clearImmediate(nextWriteTimer)\n",
    replace: `    incomings = null\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${STALE_WRITE_MARK} (closed)\n`,
  },
  {
    files: CONNECTION_FILES,
    mark: `${STALE_WRITE_MARK} (terminate)`,
    find: "      error(Errors.connection('CONNECTION_DESTROYED', options))\n\n    clearImmediate(nextWriteTimer)\n",
    replace: `      error(Errors.connection('CONNECTION_DESTROYED', options))\n\n    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null // ${STALE_WRITE_MARK} (terminate)\n`,
  },
];

let failed = false;
for (const patch of PATCHES) {
  for (const relative of patch.files) {
    const file = join(ROOT, relative);
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // Not installed (e.g. --omit of the package): nothing to patch.
    }
    if (text.includes(patch.mark)) continue;
    if (!text.includes(patch.find)) {
      console.error(`patch-dependencies: cannot patch "${relative}": the text to replace is not there (was the package upgraded? check whether it still needs the fix)`);
      failed = true;
      continue;
    }
    writeFileSync(file, text.replace(patch.find, patch.replace));
  }
}
if (failed) process.exit(1);
