// The compiled executable starts with JavaScriptCore's tier-up thresholds raised (scripts/build.ts,
// STARTUP_JIT_POLICY) and every long-lived process of it takes the normal ones back before it runs
// work (docs/performance.md, start-up, sixth pass). Plugin code is where that matters most: a
// CPU-bound job under the raised thresholds stays in the interpreter ~16 times longer. Counted with
// bun:jsc's numberOfDFGCompiles under BUN_JSC_useConcurrentJIT=0 (compiles happen synchronously, so
// the count of calls before the first DFG compile is the threshold itself: ~60 normal, ~1,000 raised).

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { assertBuilt } from "../helpers/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-jit-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PLUGIN = `function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
async function probe() {
  const jsc = await import("bun:jsc");
  let calls = 0;
  while (jsc.numberOfDFGCompiles(hot) === 0 && calls < 100000) { hot(10); calls += 1; }
  return { callsUntilDFG: calls };
}
export default { name: "jitprobe", version: "1.0.0", actions: { probe } };
`;

function callsUntilDfg(isolation: "thread" | "process"): number {
  assertBuilt();
  const file = path.join(dir, "jitprobe-1.0.0.mjs");
  writeFileSync(file, PLUGIN);
  const result = spawnSync(`${root}dist/edge-runner`, ["plugin", "run", file, "--action", "probe", "--name", "jitprobe", "--version", "1.0.0", "--isolation", isolation], {
    encoding: "utf8",
    env: { ...process.env, BUN_JSC_useConcurrentJIT: "0" },
    timeout: 30_000,
  });
  const match = /"callsUntilDFG":\s*(\d+)/.exec(result.stdout);
  if (match === null) throw new Error(`plugin run (${isolation}) exited ${result.status}: ${result.stdout}${result.stderr}`);
  return Number(match[1]);
}

for (const isolation of ["thread", "process"] as const) {
  test(`plugin code in ${isolation} isolation compiles at the JIT's normal thresholds`, () => {
    expect(callsUntilDfg(isolation)).toBeLessThan(300);
  });
}
