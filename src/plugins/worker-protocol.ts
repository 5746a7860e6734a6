// Messages between the runner (host) and a plugin worker thread: one discriminated union per
// direction. Errors cross as {code, message}; classes do not survive structured clone.

import type { LogLevel, StepUpdate, WireError } from "../protocol/edge-v1.ts";

/** Which plugin a worker hosts: a built-in (part of the executable) or a verified bundle file. */
export type PluginSource =
  | { kind: "builtin"; name: string }
  | { kind: "bundle"; path: string; name: string; version: string };

/** One job attempt as the worker sees it; `runId` is the host's key, unique per worker. */
export interface RunJob {
  id: string;
  attempt: number;
  action: string;
  input: unknown;
}

export type HostToWorker =
  | { type: "init"; source: PluginSource }
  | { type: "run"; runId: number; job: RunJob }
  /** Aborts the run's AbortSignal; the host terminates the worker if the run does not end in its grace time. */
  | { type: "cancel"; runId: number; reason: string }
  | { type: "shutdown" };

export type WorkerToHost =
  | { type: "ready"; plugin: { name: string; version: string; actions: string[] } }
  | { type: "init_failed"; error: WireError }
  | { type: "log"; runId: number; level: LogLevel; msg: string; ts: number }
  | { type: "step"; runId: number; step: StepUpdate }
  | { type: "done"; runId: number; output: unknown }
  /**
   * The run failed. `broken` means the failure escaped the action (uncaught error, unhandled
   * rejection): the worker's state is no longer trusted and the host retires it.
   */
  | { type: "failed"; runId: number; error: WireError; broken?: true }
  /** The plugin broke the worker itself (process.exit, uncaught error outside a run). */
  | { type: "fatal"; error: WireError };
