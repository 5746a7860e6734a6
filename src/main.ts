#!/usr/bin/env node
// Entry point of the executable (compiled binary, Node/Deno bundle, or `bun src/main.ts`).

import { main } from "./cli/main.ts";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`edge-runner: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
