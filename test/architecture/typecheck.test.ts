// The whole tree (src/, test/, scripts/) type-checks: bun runs TypeScript without checking it, so
// a wrong signature would otherwise only show when a bundle or a reader trips over it. One test
// rather than a gate before the suite, so a type error is reported beside the other results.

import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("tsc -p . reports no type error", () => {
  const tsc = Bun.spawnSync(["node", join(ROOT, "node_modules/typescript/bin/tsc"), "-p", ROOT, "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const report = `${tsc.stdout.toString()}${tsc.stderr.toString()}`.trim();
  expect(report).toBe("");
  expect(tsc.exitCode).toBe(0);
}, 120_000);
