// Runs one job a controller handed over: accept, execute in the plugin pool while streaming logs
// and steps (batched per tick), then report the result. The pool has already redacted and
// clipped every text (src/plugins/job-text.ts) and reports every ending, `interrupted` included;
// this checks the output fits a frame and adds the timing. Never throws.

import type { JobHandle } from "../controller/connection.ts";
import type { RedactionScope } from "../log/redact.ts";
import type { JobResult, LogLine } from "../protocol/edge-v1.ts";
import { logLineChars, MAX_OUTPUT_CHARS, SEND_LOG_CHARS, SEND_LOG_LINES } from "../protocol/limits.ts";
import { nestsDeeperThan, STORED_JSON_BOUNDS } from "../util/json-bounds.ts";
import type { JobExecutor } from "./job-executor.ts";

/** The abort reason the runner uses when a drain timeout or a second signal stops a job. */
export const INTERRUPTED = "interrupted";

export interface JobRunOptions {
  executor: JobExecutor;
  defaultTimeoutMs: number;
  /** Aborted with INTERRUPTED when the runner gives up on running jobs (drain timeout, second signal). */
  interrupt: AbortSignal;
  /** The job's redaction scope, handed to the pool with the request. */
  redaction: RedactionScope;
  now: () => number;
}

export async function runJob(handle: JobHandle, options: JobRunOptions): Promise<JobResult> {
  const { job } = handle;
  const startedAt = options.now();
  // The accept is queued once the run is on its way to a worker (in the same turn), not before:
  // its bookkeeping is then not on the way to the job's first line (issue 15, latency). It still
  // goes first: an executor that reports a line or step while being handed the run sends it then.
  let accepted = false;
  const accept = () => {
    if (accepted) return;
    accepted = true;
    handle.accept();
  };

  // Lines are batched until the end of the current tick (one message per burst, not per line),
  // and a burst is cut into messages of bounded size so a chatty plugin cannot build one the
  // controller refuses.
  let buffer: LogLine[] = [];
  let bufferedChars = 0;
  const flush = () => {
    if (buffer.length === 0) return;
    accept();
    const lines = buffer;
    buffer = [];
    bufferedChars = 0;
    handle.log(lines);
  };

  const running = options.executor.run({
    jobId: job.id,
    attempt: job.attempt,
    plugin: job.plugin,
    action: job.action,
    input: job.input,
    ...(job.secrets === undefined ? {} : { declaredSecrets: job.secrets }),
    timeoutMs: job.timeoutMs ?? options.defaultTimeoutMs,
    signal: handle.signal,
    interrupt: options.interrupt,
    redaction: options.redaction,
    onLog(line) {
      if (buffer.length === 0) queueMicrotask(flush);
      buffer.push(line);
      bufferedChars += logLineChars(line);
      if (buffer.length >= SEND_LOG_LINES || bufferedChars >= SEND_LOG_CHARS) flush();
    },
    onStep(step) {
      flush();
      accept();
      handle.step(step);
    },
  });
  accept();
  const outcome = await running;
  flush();
  const finishedAt = options.now();
  if (outcome.output !== undefined) {
    const size = outputSize(outcome.output);
    if (size === undefined || size > MAX_OUTPUT_CHARS) {
      const message = size === undefined
        ? "The job's output cannot be sent as JSON (a cycle, or a BigInt)"
        : `The job's output is ${size} characters of JSON, over the ${MAX_OUTPUT_CHARS} limit; keep large data in storage and return a reference`;
      return { status: "failed", startedAt, finishedAt, error: { code: "output_invalid", message } };
    }
    // The controller refuses a result nested past a message's depth (100) as a malformed frame and
    // never acknowledges it (the job stays leased); one past 64 it fails. Failed here, it says why.
    if (nestsDeeperThan(outcome.output, STORED_JSON_BOUNDS.maxDepth)) {
      const message = `The job's output nests deeper than ${STORED_JSON_BOUNDS.maxDepth} levels of arrays and objects, which the controller does not store`;
      return { status: "failed", startedAt, finishedAt, error: { code: "output_invalid", message } };
    }
  }
  return { ...outcome, startedAt, finishedAt };
}

/** Characters of the output as JSON, or undefined when it cannot be serialized. */
function outputSize(output: unknown): number | undefined {
  try {
    return JSON.stringify(output)?.length ?? 0;
  } catch {
    return undefined;
  }
}
