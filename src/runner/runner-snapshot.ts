// What a runner reports about itself on request: a plain snapshot, so the status endpoint answers
// from state and never probes anything. The runner owns these types; src/status/ imports them.

import type { ConnectionStatus } from "../controller/connection.ts";
import type { WorkerInfo } from "../plugins/worker-state.ts";
import type { JobStatus } from "../protocol/edge-v1.ts";
import type { RunnerState } from "./lifecycle.ts";
import type { LoopInfo } from "./loop-monitor.ts";
import type { HeldJobInfo } from "./local-queue.ts";

export type { HeldJobInfo } from "./local-queue.ts";

export interface RunningJobInfo {
  jobId: string;
  attempt: number;
  plugin: string;
  action: string;
  startedAt: number;
}

export interface RecentResultInfo {
  jobId: string;
  attempt: number;
  plugin: string;
  status: JobStatus;
  errorCode?: string;
  /** The error's message as reported to the controller (already redacted); shown clipped. */
  errorMessage?: string;
  durationMs: number;
  finishedAt: number;
}

export interface RunnerSnapshot {
  runnerId: string;
  group: string;
  version: string;
  commit: string;
  runtime: string;
  pid: number;
  startedAt: number;
  state: RunnerState;
  stateSince: number;
  connection: ConnectionStatus;
  controllerUrl: string;
  /** Started with --insecure (plain http/ws to a non-loopback controller allowed). */
  insecure?: boolean;
  /**
   * Connected, but the first announcement of the runner's encryption keys has not settled yet:
   * a job with secret inputs submitted now would find no key for the group (edge protocol only).
   */
  keysPending?: boolean;
  concurrency: number;
  /** Slots not running a job (held jobs wait for these). */
  freeSlots: number;
  /** How many offered jobs the runner may hold beyond `concurrency` (0: local prefetch off). */
  prefetch: number;
  /** Why no offered job is held although `prefetch` is set: the controller does not list `release`. */
  prefetchOff?: string;
  running: RunningJobInfo[];
  /** Offered jobs held to start as slots free, oldest first (not accepted yet). */
  held: HeldJobInfo[];
  recent: RecentResultInfo[];
  workers: WorkerInfo[];
  loops: LoopInfo[];
  now: number;
}
