// Two source trees' plugin pools A/B: the pool alone (section 8's floor) running no-op jobs, each
// round a fresh `bun` process per tree (its own worker entry and plugin runtime), alternated round
// by round and which goes first, so a loaded machine moves both alike. Not a test; figures for
// docs/performance.md.
//
//   bun scripts/bench/pool-ab.ts BASE_ROOT NEW_ROOT [--rounds=5]      (a root: a checkout with node_modules)
//   bun scripts/bench/pool-ab.ts --once ROOT                           (one round, one JSON line)

import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";

const args = process.argv.slice(2);
if (args[0] === "--once") {
  const root = args[1] as string;
  const { poolThroughput } = (await import(`${root}/scripts/bench/pool-bench.ts`)) as typeof import("./pool-bench.ts");
  const { NOOP_JOB } = (await import(`${root}/scripts/bench/clock-bundle.ts`)) as typeof import("./clock-bundle.ts");
  const warmupJobs = 2000;
  const jobs = 20_000;
  const before = process.cpuUsage();
  const tp = await poolThroughput({ concurrency: 16, warmupJobs, jobs, job: NOOP_JOB });
  const cpu = process.cpuUsage(before);
  // The process's CPU (main thread and workers) over warm-up and timed jobs alike.
  console.log(JSON.stringify({ perSecond: tp.perSecond, cpuPer1000: (cpu.user + cpu.system) / 1e6 / ((warmupJobs + jobs) / 1000) }));
  process.exit(0);
}

const [base, next] = args.filter((a) => !a.startsWith("--"));
if (base === undefined || next === undefined) throw new Error("Cannot run the pool A/B: give the base and the new tree's paths");
const rounds = Number(args.find((a) => a.startsWith("--rounds="))?.slice(9) ?? "5");
const results = { base: [] as number[], next: [] as number[], baseCpu: [] as number[], nextCpu: [] as number[] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (["base", "next"] as const) : (["next", "base"] as const);
  const line: string[] = [];
  for (const which of order) {
    const run = spawnSync(process.execPath, [import.meta.path, "--once", which === "base" ? base : next], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`Cannot run the pool round of ${which}: ${run.stderr.slice(-2000)}`);
    const { perSecond, cpuPer1000 } = JSON.parse(run.stdout.trim().split("\n").at(-1) as string) as { perSecond: number; cpuPer1000: number };
    results[which].push(perSecond);
    results[which === "base" ? "baseCpu" : "nextCpu"].push(cpuPer1000);
    line.push(`${which} ${Math.round(perSecond)} jobs/s ${cpuPer1000.toFixed(3)} CPU-s/1,000`);
  }
  console.log(`round ${r + 1}: ${line.join(", ")} (load ${loadavg()[0]?.toFixed(1)})`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`median: base ${Math.round(median(results.base))} jobs/s ${median(results.baseCpu).toFixed(3)} CPU-s/1,000; new ${Math.round(median(results.next))} jobs/s ${median(results.nextCpu).toFixed(3)} CPU-s/1,000; new/base ${(median(results.next) / median(results.base)).toFixed(2)}×`);
