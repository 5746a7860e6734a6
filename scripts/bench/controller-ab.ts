// Two builds of the controller A/B: section 8's no-op jobs through runner + `edge-runner
// controller` processes (store on disk), the runner from this source, the controller from each
// binary in turn, alternated round by round (and which goes first, too), so a loaded machine moves
// both alike. Not a test; figures for docs/performance.md.
//
//   bun scripts/bench/controller-ab.ts BASE_BINARY NEW_BINARY [--rounds=8] [--jobs=8000] [--warmup=2000] [--concurrency=16]

import { loadavg, tmpdir } from "node:os";
import { NOOP_JOB } from "./clock-bundle.ts";
import { splitProcessThroughput } from "./split-process-bench.ts";

const [base, next] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (base === undefined || next === undefined) throw new Error("Cannot run the controller A/B: give the base and the new executable's paths");
const flag = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rounds = Number(flag("rounds", "8"));
const jobs = Number(flag("jobs", "8000"));
const warmupJobs = Number(flag("warmup", "2000"));
const concurrency = Number(flag("concurrency", "16"));

const results = { base: [] as number[], next: [] as number[], baseCpu: [] as number[], nextCpu: [] as number[] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (["base", "next"] as const) : (["next", "base"] as const);
  const line: string[] = [];
  for (const which of order) {
    const tp = await splitProcessThroughput({ binary: which === "base" ? base : next, parentDir: tmpdir(), concurrency, warmupJobs, jobs, job: NOOP_JOB });
    const cpu = ((tp.runnerCpu + tp.controllerCpu) * tp.seconds / tp.jobs) * 1000;
    results[which].push(tp.perSecond);
    results[which === "base" ? "baseCpu" : "nextCpu"].push(cpu);
    line.push(`${which} ${Math.round(tp.perSecond)} jobs/s ${cpu.toFixed(2)} CPU-s/1,000`);
  }
  console.log(`round ${r + 1} (load ${loadavg()[0]!.toFixed(1)}): ${line.join("; ")}; new/base ${(results.next[r]! / results.base[r]!).toFixed(2)}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratios = results.next.map((x, i) => x / results.base[i]!);
console.log(`new/base per round: ${ratios.map((x) => x.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)} (${ratios.filter((x) => x > 1).length} of ${rounds} above 1)`);
console.log(`base: median ${Math.round(median(results.base))} jobs/s, CPU-s/1,000 ${median(results.baseCpu).toFixed(2)}; new: median ${Math.round(median(results.next))} jobs/s, CPU-s/1,000 ${median(results.nextCpu).toFixed(2)}`);
process.exit(0);
