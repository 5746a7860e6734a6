// A shell job running `true` through the full path (submitJob() → lease → WebSocket → runner →
// plugin worker → child process in its own group → result durably stored), one at a time,
// beside the same work done by a fresh process per job (runtime start + spawn `true`) and a bare
// spawn of `true` (the floor no runner can beat).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { startFullPath } from "./full-path.ts";
import { timeSpawn } from "./spawn-timer.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface ShellBench {
  fullPath: LatencySummary;
  freshProcess: Array<{ runtime: string; result: LatencySummary }>;
  bareSpawn: LatencySummary;
}

export async function shellBench(options: { parentDir: string; warmup: number; samples: number; freshRuns: number; runtimes: ReadonlyArray<{ name: string; bin: string }> }): Promise<ShellBench> {
  const full = await startFullPath({ concurrency: 4, parentDir: options.parentDir });
  const samples: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const t0 = performance.now();
      const job = full.controller.submitJob({ plugin: "shell", input: { command: ["true"] } });
      const done = await full.controller.waitForJob(job.id, 30_000);
      if (done.status !== "succeeded") throw new Error(`Cannot benchmark the shell job "${job.id}": it is ${done.status} (${done.error?.code ?? ""}: ${done.error?.message ?? ""})`);
      if (i >= options.warmup) samples.push(performance.now() - t0);
    }
  } finally {
    await full.close();
  }

  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-bench-shell-"));
  try {
    const script = path.join(dir, "shell-once.mjs");
    await build({ entryPoints: [new URL("./shell-once.ts", import.meta.url).pathname], bundle: true, format: "esm", platform: "node", target: "node20", outfile: script, logLevel: "error" });
    const freshProcess: ShellBench["freshProcess"] = [];
    for (const { name, bin } of options.runtimes) {
      for (let i = 0; i < 2; i++) await timeSpawn(bin, [script]);
      const times: number[] = [];
      for (let i = 0; i < options.freshRuns; i++) times.push((await timeSpawn(bin, [script])).exitMs);
      freshProcess.push({ runtime: name, result: summarize(times) });
    }
    const bare: number[] = [];
    for (let i = 0; i < options.freshRuns; i++) bare.push((await timeSpawn("sh", ["-c", "true; echo done"])).exitMs);
    return { fullPath: summarize(samples), freshProcess, bareSpawn: summarize(bare) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
