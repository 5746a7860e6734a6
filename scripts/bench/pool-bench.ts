// Pool level: PluginPool.run() with the built-in echo plugin and warm Worker threads, measured
// from the run() call to the first log line (latency) and as completed jobs per second.

import { PluginPool } from "../../src/plugins/pool.ts";
import { localClockResolver } from "./clock-bundle.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import { benchLogger } from "./quiet-logger.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface PoolLatencyOptions {
  warmup: number;
  samples: number;
}

export interface PoolLatency {
  /** run() → first onLog. */
  firstLog: LatencySummary;
  /** run() → outcome (the whole warm job). */
  complete: LatencySummary;
}

/** One warm echo worker, one job at a time. */
export async function poolLatency(options: PoolLatencyOptions): Promise<PoolLatency> {
  const { logger } = benchLogger();
  const pool = new PluginPool({ idleMs: 600_000, maxWorkersPerPlugin: 1, logger });
  try {
    await pool.prewarm("echo");
    const firstLog: number[] = [];
    const complete: number[] = [];
    for (let i = 0; i < options.warmup + options.samples; i++) {
      let logAt: number | undefined;
      const startedAt = performance.now();
      const outcome = await pool.run(echoRequest(`lat-${i}`, () => (logAt ??= performance.now())));
      const doneAt = performance.now();
      expectEcho(outcome, `lat-${i}`, logAt);
      if (i < options.warmup) continue;
      firstLog.push((logAt as number) - startedAt);
      complete.push(doneAt - startedAt);
    }
    return { firstLog: summarize(firstLog), complete: summarize(complete) };
  } finally {
    await pool.close();
  }
}

export interface ThroughputOptions {
  concurrency: number;
  warmupJobs: number;
  jobs: number;
  /** Echo's default action (one log line, two steps) unless given (section 8: the no-op of clock-bundle.ts, which logs nothing). */
  job?: { plugin: string; action: string };
}

export interface Throughput {
  concurrency: number;
  jobs: number;
  seconds: number;
  perSecond: number;
}

/** `concurrency` lanes, each running echo jobs back to back, on up to `concurrency` workers. */
export async function poolThroughput(options: ThroughputOptions): Promise<Throughput> {
  const { logger } = benchLogger();
  const pool = new PluginPool({ idleMs: 600_000, maxWorkersPerPlugin: options.concurrency, logger, resolve: localClockResolver });
  try {
    await drive(pool, options.concurrency, options.warmupJobs, "warm", options.job);
    const startedAt = performance.now();
    await drive(pool, options.concurrency, options.jobs, "tp", options.job);
    const seconds = (performance.now() - startedAt) / 1000;
    return { concurrency: options.concurrency, jobs: options.jobs, seconds, perSecond: options.jobs / seconds };
  } finally {
    await pool.close();
  }
}

async function drive(pool: PluginPool, lanes: number, jobs: number, prefix: string, job?: { plugin: string; action: string }): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs) {
      const id = `${prefix}-${next++}`;
      let logAt: number | undefined;
      const outcome = await pool.run({ ...echoRequest(id, () => (logAt ??= 1)), ...job });
      // The no-op logs nothing; echo must deliver its line.
      expectEcho(outcome, id, job === undefined ? logAt : 1);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

function echoRequest(jobId: string, onLog: () => void) {
  return {
    jobId,
    attempt: 1,
    plugin: "echo",
    action: "default",
    input: { jobId },
    timeoutMs: 30_000,
    signal: new AbortController().signal,
    onLog,
    onStep: () => undefined,
  };
}

/** A benchmark that silently counted a failed or log-less job would measure the wrong thing. */
function expectEcho(outcome: JobOutcome, jobId: string, logAt: number | undefined): void {
  if (outcome.status !== "succeeded") {
    throw new Error(`Cannot benchmark job "${jobId}": it ended ${outcome.status} (${outcome.error?.code ?? ""}: ${outcome.error?.message ?? ""})`);
  }
  if (logAt === undefined) throw new Error(`Cannot benchmark job "${jobId}": its log line never arrived`);
}
