// Process-per-job baseline: the echo job in a fresh process per job (the fairest container-less
// equivalent of a warm Worker), timed from spawn to its log line on stdout and to its exit.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { timeSpawn } from "./spawn-timer.ts";
import { median } from "./stats.ts";

export interface FreshProcess {
  runtime: string;
  command: string;
  runs: number;
  firstLineMs: number;
  exitMs: number;
}

/** Bundles echo-once.ts to plain JS once (no per-run transpiling), then spawns it `runs` times per runtime. */
export async function freshProcessBaseline(options: { runs: number; runtimes: ReadonlyArray<{ name: string; bin: string }> }): Promise<FreshProcess[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-bench-fresh-"));
  try {
    const script = path.join(dir, "echo-once.mjs");
    await build({
      entryPoints: [new URL("./echo-once.ts", import.meta.url).pathname],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      outfile: script,
      logLevel: "error",
    });
    const results: FreshProcess[] = [];
    for (const { name, bin } of options.runtimes) {
      // Two unmeasured runs so that every measured one finds the runtime in the page cache.
      for (let i = 0; i < 2; i++) await timeSpawn(bin, [script]);
      const first: number[] = [];
      const exit: number[] = [];
      for (let i = 0; i < options.runs; i++) {
        const timing = await timeSpawn(bin, [script]);
        if (!timing.firstLine.startsWith("Echo:")) throw new Error(`Cannot use the ${name} baseline: its first line is "${timing.firstLine}"`);
        first.push(timing.firstLineMs);
        exit.push(timing.exitMs);
      }
      results.push({ runtime: name, command: `${path.basename(bin)} echo-once.mjs`, runs: options.runs, firstLineMs: median(first), exitMs: median(exit) });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
