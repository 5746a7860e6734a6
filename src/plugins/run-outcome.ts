// How the pool ends a run before the plugin did (cancel, timeout, runner interrupt, pool
// closed), as the one JobOutcome type, with messages that name the job and the plugin.

import type { JobOutcome } from "../protocol/edge-v1.ts";

/** Why the pool ended a run before the plugin did. */
export type Ending = "cancelled" | "timed_out" | "interrupted" | "closed";

export interface EndedRun {
  jobId: string;
  plugin: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** False while the run still waited for a worker. */
  dispatched: boolean;
}

/** `result` is what the plugin produced within its grace, if anything. */
export function endedOutcome(run: EndedRun, why: Ending, result: JobOutcome | undefined): JobOutcome {
  if (why === "timed_out") {
    const where = run.dispatched ? `plugin "${run.plugin}" ran longer than allowed` : `no worker of plugin "${run.plugin}" was free`;
    return { status: "timed_out", error: { code: "plugin_timeout", message: `Cannot finish job "${run.jobId}" within ${run.timeoutMs} ms: ${where}` } };
  }
  if (why === "interrupted") {
    return { status: "interrupted", error: { code: "job_interrupted", message: "The runner stopped before the job finished" } };
  }
  if (why === "closed") {
    return { status: "cancelled", error: { code: "job_interrupted", message: `Cannot finish job "${run.jobId}": the plugin pool closed` } };
  }
  const outcome: JobOutcome = { status: "cancelled", error: { code: "job_cancelled", message: `Job "${run.jobId}" cancelled: ${abortReason(run.signal)}` } };
  // The plugin finished within its grace: keep what it produced rather than lose it.
  if (result?.status === "succeeded" && result.output !== undefined) outcome.output = result.output;
  return outcome;
}

export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === "string" && reason !== "") return reason;
  if (reason instanceof Error && reason.message !== "" && reason.name !== "AbortError") return reason.message;
  return "cancelled";
}
