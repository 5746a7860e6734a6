// What the runner hands the plugin pool: one run request per job attempt, and the pool's options.

import type { Logger } from "../log/logger.ts";
import type { RedactionScope } from "../log/redact.ts";
import type { StartWorkerOptions } from "../platform/worker.ts";
import type { LogLine, StepUpdate } from "../protocol/edge-v1.ts";
import type { PluginResolver } from "./plugin-ref.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { PoolPolicy } from "./pool-policy.ts";
import type { ArtifactSink } from "../artifacts/artifact-sink.ts";
import type { StorageService } from "../storage/storage-service.ts";
import type { SecretResolver } from "./run-services.ts";
import type { Timers } from "../util/time.ts";

export interface RunRequest {
  jobId: string;
  attempt: number;
  /** "echo" or "echo@1.0.0" (built-ins ignore the version). */
  plugin: string;
  action: string;
  input: unknown;
  /** Covers the whole run: waiting for a worker, starting it, and the action itself. */
  timeoutMs: number;
  /** Cancellation by the controller (or a lost lease): the run ends `cancelled`. */
  signal: AbortSignal;
  /** The runner gave up on running jobs (drain timeout, second signal): the run ends `interrupted`. */
  interrupt?: AbortSignal;
  /** The job's redaction scope: secrets it resolves are added, its text is redacted with it. Default: the process redactor. */
  redaction?: RedactionScope;
  onLog(line: LogLine): void;
  onStep(step: StepUpdate): void;
  /** The job's secrets by reference, as the controller gave them; ctx.secrets.get() reads them. */
  secrets?: Readonly<Record<string, string>>;
  /** The secret references the job declared at submit (the offer's `secrets`): the only ones it may resolve. */
  declaredSecrets?: readonly string[];
}

export interface PluginPoolOptions {
  /** Per-plugin warm-pool policy; when given, it replaces maxWorkersPerPlugin, maxJobsPerWorker and idleMs. */
  policy?: PoolPolicy;
  /** Default 4 (the runner's default concurrency); pass the runner's `concurrency`. */
  maxWorkersPerPlugin?: number;
  /** A worker idle this long is stopped. */
  idleMs: number;
  /** Recycle a worker after this many jobs (default 1000), so slow leaks stay bounded. */
  maxJobsPerWorker?: number;
  /** After cancel or timeout, how long the plugin may take to stop before its worker is terminated (default 2000). */
  cancelGraceMs?: number;
  /** How long loading a plugin may take before its worker is terminated (default 30000). */
  startTimeoutMs?: number;
  /** Heap cap per worker in MiB (default 256); Node and Deno enforce it, Bun ignores it (see the policy's memoryCeilingMb). */
  maxWorkerHeapMb?: number;
  logger: Logger;
  /** Finds non-built-in plugins (download + verify + cache); default: built-ins only. */
  resolve?: PluginResolver;
  /** Resolves ctx.secrets.get() for a run; default: the request's own `secrets` map. */
  secrets?: (request: RunRequest) => SecretResolver;
  /** Intermediate job data (ctx.storage); default a directory under the OS temp dir. The runner passes its configured backend. */
  storage?: StorageService;
  /** Where a run's ctx.artifacts go; default: nowhere (a put fails). The runner passes its controller's sink. */
  artifacts?: (request: RunRequest) => ArtifactSink;
  /** Largest artifact in bytes (default 100 MiB). */
  artifactMaxBytes?: number;
  /** Time for idle expiry, timeouts, grace periods and workers' start times; real by default. */
  timers?: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  /** Starts the thread; tests may point it elsewhere. Default: src/platform/worker.ts. */
  spawn?: (options: StartWorkerOptions) => PluginThread;
  /**
   * The runner's own secrets, masked in what a worker prints before its first run. Default: the
   * process redaction; a test gives its own, as the process one holds every earlier test's secrets.
   */
  processRedaction?: RedactionScope;
}

/** Option check shared by the pool: a count that must be a positive integer. */
export function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`Cannot create plugin pool: ${name} must be a positive integer, got ${value}`);
  return value;
}
