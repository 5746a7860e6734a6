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

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MARK = "edge-runner patch: porsager/postgres#1208";

const PATCHES = [
  {
    files: ["node_modules/postgres/src/connection.js", "node_modules/postgres/cjs/src/connection.js"],
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
    if (text.includes(MARK)) continue;
    if (!text.includes(patch.find)) {
      console.error(`patch-dependencies: cannot patch "${relative}": the text to replace is not there (was the package upgraded? check whether it still needs the fix)`);
      failed = true;
      continue;
    }
    writeFileSync(file, text.replace(patch.find, patch.replace));
  }
}
if (failed) process.exit(1);
