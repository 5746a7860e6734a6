// Full path: controller.submitJob() → durable queue → lease → offer over a loopback WebSocket →
// runner → plugin pool → first log line back in the runner; and jobs per second end to end
// (submitted, run, result durably recorded by the controller).

import { meterDurableWrites, type DurableWrites } from "./durable-write-meter.ts";
import { startFullPath, type FullPath } from "./full-path.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface FullLatencyOptions {
  parentDir: string;
  warmup: number;
  samples: number;
}

export interface FullLatency {
  /** submitJob() → first log line in the runner. */
  firstLog: LatencySummary;
  /** Where that time went, p50 of each leg. */
  legs: { submitCallMs: number; deliveryMs: number; poolMs: number };
  /** submitJob() → the job is terminal at the controller (result stored durably). */
  complete: LatencySummary;
}

/** One job at a time through an idle system with a warm echo worker. */
export async function fullPathLatency(options: FullLatencyOptions): Promise<FullLatency> {
  const path = await startFullPath({ concurrency: 4, parentDir: options.parentDir });
  try {
    const firstLog: number[] = [];
    const complete: number[] = [];
    const submitCall: number[] = [];
    const delivery: number[] = [];
    const poolLeg: number[] = [];
    for (let i = 0; i < options.warmup + options.samples; i++) {
      const t0 = performance.now();
      const job = path.controller.submitJob({ plugin: "echo", input: { i } });
      const submitted = performance.now();
      await path.executor.firstLog(job.id);
      const marks = path.executor.marks.get(job.id);
      await expectSucceeded(path, job.id);
      const done = performance.now();
      path.executor.marks.delete(job.id);
      if (i < options.warmup) continue;
      const executeAt = marks?.executeAt as number;
      const firstLogAt = marks?.firstLogAt as number;
      firstLog.push(firstLogAt - t0);
      complete.push(done - t0);
      submitCall.push(submitted - t0);
      delivery.push(executeAt - submitted);
      poolLeg.push(firstLogAt - executeAt);
    }
    checkProblems(path);
    return {
      firstLog: summarize(firstLog),
      complete: summarize(complete),
      legs: { submitCallMs: summarize(submitCall).p50Ms, deliveryMs: summarize(delivery).p50Ms, poolMs: summarize(poolLeg).p50Ms },
    };
  } finally {
    await path.close();
  }
}

export interface FullThroughputOptions {
  parentDir: string;
  concurrency: number;
  warmupJobs: number;
  jobs: number;
}

export interface FullThroughput {
  concurrency: number;
  jobs: number;
  seconds: number;
  perSecond: number;
  writes: DurableWrites;
}

/**
 * 2 × concurrency submitters, each submitting an echo job and waiting until the controller has
 * it terminal, so the runner always has a job queued behind every running one.
 */
export async function fullPathThroughput(options: FullThroughputOptions): Promise<FullThroughput> {
  const path = await startFullPath({ concurrency: options.concurrency, parentDir: options.parentDir });
  try {
    const meter = meterDurableWrites(path.controller);
    await drive(path, 2 * options.concurrency, options.warmupJobs);
    meter.reset();
    const startedAt = performance.now();
    await drive(path, 2 * options.concurrency, options.jobs);
    const seconds = (performance.now() - startedAt) / 1000;
    const writes = meter.read();
    checkProblems(path);
    return { concurrency: options.concurrency, jobs: options.jobs, seconds, perSecond: options.jobs / seconds, writes };
  } finally {
    await path.close();
  }
}

async function drive(path: FullPath, lanes: number, jobs: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs) {
      const job = path.controller.submitJob({ plugin: "echo", input: { n: next++ } });
      await expectSucceeded(path, job.id);
      path.executor.marks.delete(job.id);
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

async function expectSucceeded(path: FullPath, jobId: string): Promise<void> {
  const job = await path.controller.waitForJob(jobId, 30_000);
  if (job.status !== "succeeded") {
    throw new Error(`Cannot benchmark job "${jobId}": it is ${job.status} after 30 s (${job.error?.code ?? ""}: ${job.error?.message ?? ""})`);
  }
  if (path.executor.marks.get(jobId)?.firstLogAt === undefined) throw new Error(`Cannot benchmark job "${jobId}": its log line never reached the runner`);
}

/** A warning during a clean benchmark (a refused result, a lost lease) would make its numbers wrong. */
function checkProblems(path: FullPath): void {
  const first = path.problems[0];
  if (first !== undefined) throw new Error(`Cannot trust the full-path benchmark: ${path.problems.length} warning(s), first: ${first.msg} ${JSON.stringify(first)}`);
}
