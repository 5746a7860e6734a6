// Messages between the runner (host) and a plugin worker (a thread, or a child process in
// process isolation mode): one discriminated union per direction. Errors cross as {code, message};
// classes do not survive structured clone.

import type { LogLevel, StepUpdate, WireError } from "../protocol/edge-v1.ts";
import type { ObjectOptions } from "../storage/storage-keys.ts";

/** Which plugin a worker hosts: a built-in (part of the executable) or a verified bundle file. */
export type PluginSource =
  | { kind: "builtin"; name: string }
  /**
   * `url` is what the worker imports: a data: URL of the verified bytes for a signed bundle (a
   * file on disk could be swapped between check and import), a file: URL for a local run.
   * `id` tells bundles apart for worker sharing: the digest, or the file path.
   */
  | { kind: "bundle"; url: string; id: string; name: string; version: string };

/** One job attempt as the worker sees it; `runId` is the host's key, unique per worker. */
export interface RunJob {
  id: string;
  attempt: number;
  action: string;
  input: unknown;
  /** The runner's artifactMaxBytes, as ctx.artifacts.maxBytes (the host enforces it: host-calls.ts). */
  artifactMaxBytes: number;
}

/**
 * What a running action asks the host for (ctx.secrets, ctx.storage, ctx.artifacts). The host
 * answers with a `reply`; secrets and storage live on the host so a plugin never holds a
 * credential store or the storage backend's keys, and the host can delete a job's data when the
 * job ends. Large bodies cross as streams of chunks (host-streams.ts): a write is answered when
 * the host can take more, a read with the next chunk, so neither side holds a whole object.
 */
export type HostCall =
  | { op: "secret.get"; ref: string }
  /** ctx.secrets.mask(value): one more value for the job's redaction. */
  | { op: "secret.mask"; value: string }
  | { op: "storage.put"; key: string; data: Uint8Array; options?: ObjectOptions }
  | { op: "storage.head"; key: string }
  | { op: "storage.delete"; key: string }
  | { op: "storage.list"; prefix: string }
  /** Answered with `{ stream }`; then `stream.write` chunks and one `stream.write_end`. */
  | { op: "stream.write_open"; target: "storage" | "artifact"; name: string; options?: ObjectOptions }
  | { op: "stream.write"; stream: number; chunk: Uint8Array }
  /** Answered with the size stored (storage) or the ArtifactRecord; with `abort`, the write is abandoned. */
  | { op: "stream.write_end"; stream: number; abort?: string }
  /** Answered with `{ stream, info }`, or undefined when there is no such object. */
  | { op: "stream.read_open"; key: string }
  /** Answered with the next chunk, or null at the end. */
  | { op: "stream.read"; stream: number }
  | { op: "stream.read_end"; stream: number };

/** An object's description as it crosses to the plugin. */
export interface StoredInfo {
  key: string;
  size: number;
  lastModified: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

export type HostToWorker =
  /**
   * `claims` (threads only: shared memory) holds one slot per run queued behind a busy run
   * (pool-pipeline.ts): the run's id while it waits, then -id once the worker started it or 0
   * once the host took it back. Whoever swaps the id first owns the run, so a run is never both
   * started and handed to another worker (and a slot reused for a later run never matches).
   * `logWindow` (threads only): the characters of log lines the host took (log-window.ts).
   * `rateHolds` (threads of built-in plugins only): the process's API rate-limit holds (rate-holds.ts).
   */
  | { type: "init"; source: PluginSource; claims?: Int32Array; logWindow?: Int32Array; rateHolds?: BigInt64Array }
  /** With `claim`, a run queued behind the current one: started only if the worker wins its slot. */
  | { type: "run"; runId: number; job: RunJob; claim?: number }
  /** Aborts the run's AbortSignal; the host terminates the worker if the run does not end in its grace time. */
  | { type: "cancel"; runId: number; reason: string }
  | { type: "reply"; callId: number; ok: true; value: unknown }
  | { type: "reply"; callId: number; ok: false; error: WireError };

export type WorkerToHost =
  | { type: "ready"; plugin: { name: string; version: string; actions: string[] } }
  | { type: "init_failed"; error: WireError }
  | { type: "log"; runId: number; level: LogLevel; msg: string; ts: number }
  | { type: "step"; runId: number; step: StepUpdate }
  | { type: "call"; runId: number; callId: number; call: HostCall }
  /** The run started a child process (its own process group); the host stops the group when the job ends. */
  | { type: "spawned"; runId: number; pid: number }
  /** Text the plugin printed outside any run (a timer left behind): logged by the host, redacted. */
  | { type: "stray"; text: string }
  /**
   * Threads only: text the plugin wrote raw to the process's fd 1 or 2 (stray-writes.ts), as it
   * came: not cut into lines, for the host cuts it where no secret crosses a cut.
   */
  | { type: "output"; fd: 1 | 2; text: string }
  /** The worker's own heap after a run (Bun, Node and Deno all report it per worker). */
  | { type: "usage"; heapBytes: number; rssBytes: number }
  /** `ms`: how long the run took in the worker, from its start to its result (pool-pipeline.ts). */
  | { type: "done"; runId: number; output: unknown; ms?: number }
  /**
   * The run failed. `broken` means the failure escaped the action (uncaught error, unhandled
   * rejection): the worker's state is no longer trusted and the host retires it. `output`
   * carries the named outputs the action set before it failed, so they are not lost.
   */
  | { type: "failed"; runId: number; error: WireError; broken?: true; output?: unknown; ms?: number }
  /** The plugin broke the worker itself (process.exit, uncaught error outside a run). */
  | { type: "fatal"; error: WireError };
