// Messages between the runner (host) and a plugin worker thread: one discriminated union per
// direction. Errors cross as {code, message}; classes do not survive structured clone.

import type { LogLevel, StepUpdate, WireError } from "../protocol/edge-v1.ts";

/** Which plugin a worker hosts: a built-in (part of the executable) or a verified bundle file. */
export type PluginSource =
  | { kind: "builtin"; name: string }
  | { kind: "bundle"; path: string; name: string; version: string };

export type HostToWorker =
  | { type: "init"; source: PluginSource }
  | { type: "run"; runId: number; job: { id: string; attempt: number; action: string; input: unknown; timeoutMs: number } }
  | { type: "cancel"; runId: number; reason: string }
  | { type: "shutdown" };

export type WorkerToHost =
  | { type: "ready"; plugin: { name: string; version: string; actions: string[] } }
  | { type: "init_failed"; error: WireError }
  | { type: "log"; runId: number; level: LogLevel; msg: string; ts: number }
  | { type: "step"; runId: number; step: StepUpdate }
  | { type: "done"; runId: number; output: unknown }
  | { type: "failed"; runId: number; error: WireError }
  /** The plugin broke the worker itself (process.exit, uncaught error outside a run). */
  | { type: "fatal"; error: WireError };
