// Runs one job a controller handed over: accept, execute in a plugin worker while streaming
// logs and steps (batched per tick, redacted), then report the result. Never throws.

import type { JobHandle, JobResult } from "../controller/connection.ts";
import type { LogLine } from "../protocol/edge-v1.ts";
import { redactor } from "../log/redact.ts";
import type { JobExecutor } from "./job-executor.ts";

/** The abort reason the runner uses when a drain timeout or a second signal stops a job. */
export const INTERRUPTED = "interrupted";

export interface JobRunOptions {
  executor: JobExecutor;
  defaultTimeoutMs: number;
  /** Aborted with INTERRUPTED when the runner gives up on running jobs (drain timeout, second signal). */
  interrupt: AbortSignal;
  now: () => number;
}

export async function runJob(handle: JobHandle, options: JobRunOptions): Promise<JobResult> {
  const { job } = handle;
  const startedAt = options.now();
  handle.accept();

  // Lines are batched until the end of the current tick: one message per burst, not per line.
  let buffer: LogLine[] = [];
  const flush = () => {
    if (buffer.length === 0) return;
    const lines = buffer;
    buffer = [];
    handle.log(lines);
  };
  const signal = AbortSignal.any([handle.signal, options.interrupt]);

  const outcome = await options.executor.run({
    jobId: job.id,
    attempt: job.attempt,
    plugin: job.plugin,
    action: job.action,
    input: job.input,
    timeoutMs: job.timeoutMs ?? options.defaultTimeoutMs,
    signal,
    onLog(line) {
      if (buffer.length === 0) queueMicrotask(flush);
      buffer.push({ ts: line.ts, level: line.level, msg: redactor.text(line.msg) });
    },
    onStep(step) {
      flush();
      handle.step(step.message === undefined ? step : { ...step, message: redactor.text(step.message) });
    },
  });
  flush();

  const result: JobResult = { status: outcome.status, startedAt, finishedAt: options.now() };
  if (outcome.output !== undefined) result.output = outcome.output;
  if (outcome.error !== undefined) result.error = { code: outcome.error.code, message: redactor.text(outcome.error.message) };
  if (outcome.status === "cancelled" && options.interrupt.aborted && !handle.signal.aborted) {
    result.status = "interrupted";
    result.error = { code: "job_interrupted", message: "The runner stopped before the job finished" };
  }
  return result;
}
