// Runs one job a controller handed over: accept, execute in a plugin worker while streaming
// logs and steps (batched per tick, redacted), then report the result. Never throws.

import type { JobHandle, JobResult } from "../controller/connection.ts";
import type { LogLine } from "../protocol/edge-v1.ts";
import { redactor } from "../log/redact.ts";
import type { JobExecutor } from "./job-executor.ts";

/** The abort reason the runner uses when a drain timeout or a second signal stops a job. */
export const INTERRUPTED = "interrupted";

/** A log message carries at most this many lines or characters (the protocol allows 1,000 lines). */
const MAX_LINES_PER_MESSAGE = 500;
const MAX_CHARS_PER_MESSAGE = 256 * 1024;
/** A result's output beyond this fails the job: it would not fit a frame the controller accepts. */
export const MAX_OUTPUT_CHARS = 1024 * 1024;
/** Error and step messages are for people; a plugin that throws megabytes gets them cut. */
const MAX_MESSAGE_CHARS = 16 * 1024;

function clip(text: string): string {
  return text.length <= MAX_MESSAGE_CHARS ? text : `${text.slice(0, MAX_MESSAGE_CHARS)}… (${text.length - MAX_MESSAGE_CHARS} more characters cut)`;
}

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

  // Lines are batched until the end of the current tick (one message per burst, not per line),
  // and a burst is cut into messages of bounded size so a chatty plugin cannot build one the
  // controller refuses.
  let buffer: LogLine[] = [];
  let bufferedChars = 0;
  const flush = () => {
    if (buffer.length === 0) return;
    const lines = buffer;
    buffer = [];
    bufferedChars = 0;
    handle.log(lines);
  };
  const signal = AbortSignal.any([handle.signal, options.interrupt]);

  const outcome = await options.executor.run({
    jobId: job.id,
    attempt: job.attempt,
    plugin: job.plugin,
    action: job.action,
    input: job.input,
    ...(job.secrets === undefined ? {} : { declaredSecrets: job.secrets }),
    timeoutMs: job.timeoutMs ?? options.defaultTimeoutMs,
    signal,
    onLog(line) {
      if (buffer.length === 0) queueMicrotask(flush);
      const msg = redactor.text(line.msg);
      buffer.push({ ts: line.ts, level: line.level, msg });
      bufferedChars += msg.length + 40;
      if (buffer.length >= MAX_LINES_PER_MESSAGE || bufferedChars >= MAX_CHARS_PER_MESSAGE) flush();
    },
    onStep(step) {
      flush();
      handle.step(step.message === undefined ? step : { ...step, message: clip(redactor.text(step.message)) });
    },
  });
  flush();

  const result: JobResult = { status: outcome.status, startedAt, finishedAt: options.now() };
  if (outcome.output !== undefined) {
    const size = outputSize(outcome.output);
    if (size === undefined || size > MAX_OUTPUT_CHARS) {
      const message = size === undefined
        ? "The job's output cannot be sent as JSON (a cycle, or a BigInt)"
        : `The job's output is ${size} characters of JSON, over the ${MAX_OUTPUT_CHARS} limit; keep large data in storage and return a reference`;
      return { status: "failed", startedAt, finishedAt: result.finishedAt, error: { code: "output_invalid", message } };
    }
    // An output can carry a secret the plugin saw: masked like every other text of the job.
    result.output = redactor.value(outcome.output);
  }
  if (outcome.error !== undefined) result.error = { code: outcome.error.code.slice(0, 128), message: clip(redactor.text(outcome.error.message)) };
  if (outcome.status === "cancelled" && options.interrupt.aborted && !handle.signal.aborted) {
    result.status = "interrupted";
    result.error = { code: "job_interrupted", message: "The runner stopped before the job finished" };
  }
  return result;
}

/** Characters of the output as JSON, or undefined when it cannot be serialized. */
function outputSize(output: unknown): number | undefined {
  try {
    return JSON.stringify(output)?.length ?? 0;
  } catch {
    return undefined;
  }
}
