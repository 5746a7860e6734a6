// What the status endpoint shows: a plain snapshot the runner builds on request, so the status
// app answers from state and never probes anything itself.

import type { ConnectionStatus } from "../controller/connection.ts";
import type { JobStatus } from "../protocol/edge-v1.ts";

export type RunnerState = "starting" | "connecting" | "ready" | "draining" | "stopped" | "failed";

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

export interface WorkerInfo {
  id: number;
  plugin: string;
  state: "starting" | "idle" | "busy" | "stopping";
  jobsServed: number;
  startedAt: number;
  /** Heap in bytes where the runtime reports it per worker. */
  memoryBytes?: number;
}

export interface LoopInfo {
  name: string;
  /** Epoch ms of the loop's last tick; /healthz fails when a loop stops ticking. */
  lastTickAt: number;
  /** How stale the tick may be before the loop counts as stuck. */
  maxSilenceMs: number;
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
  concurrency: number;
  freeSlots: number;
  running: RunningJobInfo[];
  recent: RecentResultInfo[];
  workers: WorkerInfo[];
  loops: LoopInfo[];
  now: number;
}
