// The controller's job lifecycle: one named union and one transition function that refuses
// anything docs/protocol.md does not allow, so a bug shows up as an error, not a lost job.

import { EdgeError } from "../errors.ts";

export type JobState =
  | "queued"
  | "leased"
  | "running"
  | "cancelling"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "timed_out";

export const JOB_STATES: readonly JobState[] = [
  "queued", "leased", "running", "cancelling", "succeeded", "failed", "cancelled", "timed_out",
];

const FINISHED = ["succeeded", "failed", "cancelled", "timed_out"] as const;

const ALLOWED: Record<JobState, readonly JobState[]> = {
  queued: ["leased", "cancelled"],
  // A result may arrive before `accept` was processed; expiry, reject and `interrupted` re-queue.
  leased: ["running", "queued", "cancelling", ...FINISHED],
  running: ["queued", "cancelling", ...FINISHED],
  // Whatever the runner reports after a cancel, the job ends cancelled (its output is kept).
  cancelling: ["cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

export function isTerminal(state: JobState): boolean {
  return ALLOWED[state].length === 0;
}

/** States in which a runner holds a lease on the job. */
export function isLeased(state: JobState): boolean {
  return state === "leased" || state === "running" || state === "cancelling";
}

/** Returns `to` when the move is legal; throws a `conflict` EdgeError naming both states otherwise. */
export function transitionJob(jobId: string, from: JobState, to: JobState): JobState {
  if (!ALLOWED[from].includes(to)) {
    throw new EdgeError("conflict", `Cannot move job "${jobId}" from "${from}" to "${to}"`);
  }
  return to;
}
