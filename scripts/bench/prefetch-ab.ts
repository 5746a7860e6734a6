// Local prefetch A/B: section 8's no-op jobs through runner + `edge-runner controller` processes
// (store on disk), the runner's `prefetch` values alternated round by round in one run, so a
// loaded machine moves every value alike. Not a test; figures for docs/performance.md.
//
//   bun scripts/bench/prefetch-ab.ts /tmp/p4-bin/edge-runner [--values=0,16] [--rounds=5] [--jobs=4000] [--concurrency=16] [--warmup=200]

import { tmpdir } from "node:os";
import { NOOP_JOB } from "./clock-bundle.ts";
import { splitProcessThroughput } from "./split-process-bench.ts";

const binary = process.argv[2];
if (binary === undefined || binary.startsWith("--")) throw new Error("Cannot run the prefetch A/B: give the executable's path first");
const flag = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const values = flag("values", "0,16").split(",").map(Number);
const rounds = Number(flag("rounds", "5"));
const jobs = Number(flag("jobs", "4000"));
const concurrency = Number(flag("concurrency", "16"));
const warmupJobs = Number(flag("warmup", "200"));

const results = new Map<number, Array<{ perSecond: number; cpuPer1000: number }>>(values.map((v) => [v, []]));
for (let r = 0; r < rounds; r++) {
  // Alternate the order too, so neither value always runs right after the other.
  for (const prefetch of r % 2 === 0 ? values : [...values].reverse()) {
    const tp = await splitProcessThroughput({ binary, parentDir: tmpdir(), concurrency, prefetch, warmupJobs, jobs, job: NOOP_JOB });
    const cpuPer1000 = ((tp.runnerCpu + tp.controllerCpu) * tp.seconds / tp.jobs) * 1000;
    results.get(prefetch)!.push({ perSecond: tp.perSecond, cpuPer1000 });
    console.log(`round ${r + 1} prefetch ${prefetch}: ${Math.round(tp.perSecond)} jobs/s, ${cpuPer1000.toFixed(2)} CPU-s/1,000 (runner ${tp.runnerCpu.toFixed(2)}, controller ${tp.controllerCpu.toFixed(2)} cores)`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// Each value against the first, round by round (the rounds ran back to back, so they share the load).
const base = results.get(values[0]!)!;
for (const [prefetch, rs] of results) {
  if (prefetch === values[0]) continue;
  const ratios = rs.map((x, i) => x.perSecond / base[i]!.perSecond);
  console.log(`prefetch ${prefetch} / prefetch ${values[0]} jobs/s per round: ${ratios.map((r) => r.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)}`);
}
for (const [prefetch, rs] of results) {
  console.log(`prefetch ${prefetch}: median ${Math.round(median(rs.map((x) => x.perSecond)))} jobs/s (${rs.map((x) => Math.round(x.perSecond)).join(", ")}), CPU-s/1,000 median ${median(rs.map((x) => x.cpuPer1000)).toFixed(2)} (${rs.map((x) => x.cpuPer1000.toFixed(2)).join(", ")})`);
}
