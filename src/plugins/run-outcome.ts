// How a run's end becomes the RunOutcome the runner reports: the plugin's own result, or why the
// pool stopped it (cancel, timeout, shutdown), with messages that name the job and the plugin.

import type { ArtifactRecord } from "../artifacts/artifact-sink.ts";
import type { WireError } from "../protocol/edge-v1.ts";
import type { RunResult } from "./worker-host.ts";

export interface RunOutcome {
  status: "succeeded" | "failed" | "cancelled" | "timed_out";
  output?: unknown;
  error?: WireError;
  /** Artifacts the plugin kept (ctx.artifacts.put), with size and digest; kept in every outcome. */
  artifacts?: ArtifactRecord[];
}

/** Why the pool ended a run before the plugin did. */
export type Ending = "cancelled" | "timed_out" | "closed";

export interface EndedRun {
  jobId: string;
  plugin: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** False while the run still waited for a worker. */
  dispatched: boolean;
}

export function resultOutcome(result: RunResult): RunOutcome {
  if (result.ok) return { status: "succeeded", output: result.output };
  // Named outputs set before the failure are reported with it rather than lost.
  return result.output === undefined ? { status: "failed", error: result.error } : { status: "failed", error: result.error, output: result.output };
}

export function endedOutcome(run: EndedRun, why: Ending, result: RunResult | undefined): RunOutcome {
  if (why === "timed_out") {
    const where = run.dispatched ? `plugin "${run.plugin}" ran longer than allowed` : `no worker of plugin "${run.plugin}" was free`;
    return { status: "timed_out", error: { code: "plugin_timeout", message: `Cannot finish job "${run.jobId}" within ${run.timeoutMs} ms: ${where}` } };
  }
  if (why === "closed") {
    return { status: "cancelled", error: { code: "job_interrupted", message: `Cannot finish job "${run.jobId}": the plugin pool closed` } };
  }
  const outcome: RunOutcome = { status: "cancelled", error: { code: "job_cancelled", message: `Job "${run.jobId}" cancelled: ${abortReason(run.signal)}` } };
  // The plugin finished within its grace: keep what it produced rather than lose it.
  if (result?.ok === true && result.output !== undefined) outcome.output = result.output;
  return outcome;
}

export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === "string" && reason !== "") return reason;
  if (reason instanceof Error && reason.message !== "" && reason.name !== "AbortError") return reason.message;
  return "cancelled";
}
