// Jobs per second through one runner that has its process to itself: the controller is the
// compiled `edge-runner controller` in its own process (as in production), the runner runs in
// this one. A backlog is submitted first (not timed); the clock runs from the first job after
// warm-up until every result is acknowledged by the controller.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { localClockResolver } from "./clock-bundle.ts";
import { createBenchRunner, waitConnected } from "./full-path.ts";
import { freePort, startChild, stopChild, waitFor200 } from "./processes.ts";
import { benchLogger } from "./quiet-logger.ts";
import { timeSpawn } from "./spawn-timer.ts";

export interface SplitOptions {
  binary: string;
  /** Parent of the controller's data directory (disk or tmpfs). */
  parentDir: string;
  concurrency: number;
  /** Local prefetch of the runner (default: the option's default). */
  prefetch?: number;
  warmupJobs: number;
  jobs: number;
  /** The job run: the built-in echo's default action (logs a line, reports two steps) unless given (section 8: the no-op of clock-bundle.ts). */
  job?: { plugin: string; action: string };
  /** Also measure CPU per thread of both processes (profile-split.ts). */
  threads?: boolean;
}

export interface SplitThroughput {
  concurrency: number;
  jobs: number;
  seconds: number;
  perSecond: number;
  /** CPU time used during the timed window, as a share of one core: this process (runner + workers) and the controller's. */
  runnerCpu: number;
  controllerCpu: number;
  /** The timed window in epoch milliseconds, to cut a CPU profile to it (scripts/bench/profile-window.ts). */
  window: { from: number; to: number };
  /** CPU seconds per thread name (`/proc/<pid>/task/<tid>/comm`) in the timed window, when asked for. */
  threads?: { runner: Map<string, number>; controller: Map<string, number> };
}

export async function splitProcessThroughput(options: SplitOptions): Promise<SplitThroughput> {
  const dir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-split-"));
  const children = new Set<ChildProcess>();
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const controller = startChild(options.binary, ["controller", "--data-dir", dir, "--listen-port", String(port), "--log-level", "warn"]);
    children.add(controller);
    await waitFor200(`${url}/api/v1/health`, 10_000, "the controller's /api/v1/health");
    const keyFile = path.join(dir, "bench.key");
    await timeSpawn(options.binary, ["runner", "register", "bench", "--api-key-out", keyFile, "--controller-url", url, "--data-dir", dir]);
    const token = readFileSync(path.join(dir, "controller", "admin-token"), "utf8").trim();
    const total = options.warmupJobs + options.jobs;
    await submitBacklog(url, token, total, options.job ?? { plugin: "echo", action: "default" });

    const { logger, problems } = benchLogger();
    const bench = createBenchRunner({ controllerUrl: url, apiKey: readFileSync(keyFile, "utf8").trim(), concurrency: options.concurrency, ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }), logger, resolve: localClockResolver });
    bench.runner.start();
    await waitConnected(bench.connection);
    await bench.executor.whenFinished(options.warmupJobs);
    const startedAt = performance.now();
    const from = Date.now();
    const cpuBefore = process.cpuUsage();
    const controllerBefore = cpuSeconds(controller.pid as number);
    const threadsBefore = options.threads === true ? { runner: threadCpu(process.pid), controller: threadCpu(controller.pid as number) } : undefined;
    await bench.executor.whenFinished(total);
    await bench.connection.flush(AbortSignal.timeout(30_000));
    const seconds = (performance.now() - startedAt) / 1000;
    const to = Date.now();
    const cpu = process.cpuUsage(cpuBefore);
    const runnerCpu = (cpu.user + cpu.system) / 1e6 / seconds;
    const controllerCpu = (cpuSeconds(controller.pid as number) - controllerBefore) / seconds;
    const threads = threadsBefore === undefined ? undefined : { runner: threadDelta(threadsBefore.runner, threadCpu(process.pid)), controller: threadDelta(threadsBefore.controller, threadCpu(controller.pid as number)) };
    await bench.runner.drain("bench done");
    if (bench.executor.failed > 0) throw new Error(`Cannot trust the split-process benchmark: ${bench.executor.failed} job(s) did not succeed`);
    const first = problems[0];
    if (first !== undefined) throw new Error(`Cannot trust the split-process benchmark: ${problems.length} warning(s), first: ${first.msg} ${JSON.stringify(first)}`);
    return { concurrency: options.concurrency, jobs: options.jobs, seconds, perSecond: options.jobs / seconds, runnerCpu, controllerCpu, window: { from, to }, ...(threads === undefined ? {} : { threads }) };
  } finally {
    for (const child of [...children]) await stopChild(child, children);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Eight submitters over the admin API; every job must be accepted (201). */
async function submitBacklog(url: string, token: string, count: number, job: { plugin: string; action: string }): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      const response = await fetch(`${url}/api/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ ...job, input: { n } }),
      });
      if (response.status !== 201) throw new Error(`Cannot submit bench job ${n}: HTTP ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

/** User + system CPU seconds of a process from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds per thread name of a process (threads of the same name summed). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, s]) => [name, s - (before.get(name) ?? 0)] as [string, number]).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]));
}
