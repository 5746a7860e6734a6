// Entry for profiling both processes of the production layout (docs/performance.md): 4,000
// jobs at concurrency 16, this process as the runner, the controller in its own process. The job
// is section 8's no-op (NOOP_JOB), or with --echo the built-in echo's default action (a log line
// and two steps). BINARY is an executable or a wrapper that starts `controller` under `bun --cpu-prof`:
// bun --cpu-prof --cpu-prof-md --cpu-prof-dir=/tmp/prof-runner scripts/bench/profile-split.ts BINARY [--echo]
// It prints the timed window; scripts/bench/profile-window.ts cuts each profile to it (the
// untimed backlog submission through the admin API is not the hot path).

import { tmpdir } from "node:os";
import { NOOP_JOB } from "./clock-bundle.ts";
import { splitProcessThroughput } from "./split-process-bench.ts";

const binary = process.argv[2];
if (binary === undefined) throw new Error("Usage: bun scripts/bench/profile-split.ts <edge-runner or wrapper>");
const result = await splitProcessThroughput({ binary, parentDir: tmpdir(), concurrency: Number(process.env.CONCURRENCY ?? 16), warmupJobs: Number(process.env.WARMUP ?? 200), jobs: Number(process.env.JOBS ?? 4000), threads: true, ...(process.argv.includes("--echo") ? {} : { job: NOOP_JOB }) });
console.log(`${Math.round(result.perSecond)} jobs/s; CPU runner ${result.runnerCpu.toFixed(2)} / controller ${result.controllerCpu.toFixed(2)} cores; CPU-s per 1,000 jobs ${(((result.runnerCpu + result.controllerCpu) * result.seconds) / result.jobs * 1000).toFixed(2)}`);
const threads = (m: Map<string, number>) => [...m].map(([name, s]) => `${name} ${((s / result.jobs) * 1000).toFixed(2)}`).join(", ");
if (result.threads !== undefined) console.log(`CPU-s per 1,000 jobs by thread: runner: ${threads(result.threads.runner)}\ncontroller: ${threads(result.threads.controller)}`);
console.log(`timed window: --from=${result.window.from} --to=${result.window.to}`);
process.exit(0);
