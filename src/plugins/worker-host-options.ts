// What a plugin worker's host is given: its options from the pool, and the sink of each run
// (where the run's log lines, steps and host calls go).

import type { StrayStream } from "./stray-output.ts";
import type { Logger } from "../log/logger.ts";
import type { CutRedaction } from "../secrets/redaction/stream-cut.ts";
import type { LogLine, StepUpdate, WireError } from "../protocol/edge-v1.ts";
import type { Timers } from "../util/time.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { WorkerHost } from "./worker-host.ts";
import type { HostCall, PluginSource } from "./worker-protocol.ts";

export interface RunSink {
  onLog(line: LogLine): void;
  onStep(step: StepUpdate): void;
  /** Answers the plugin's ctx.secrets / ctx.storage calls; a rejection crosses as {code, message}. */
  call(call: HostCall): Promise<unknown>;
  /** The run started a child process leading its own process group, stopped when the job ends. */
  onSpawned(pid: number): void;
  /** The job's secrets: kept after the run to mask what the worker prints later. */
  redaction: CutRedaction;
}

export interface WorkerHostOptions {
  id: number;
  /** What status shows: "echo", "shell@1.2.0". */
  label: string;
  source: PluginSource;
  logger: Logger;
  timers: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  startTimeoutMs: number;
  spawn(): PluginThread;
  /** Called once when the worker leaves service for any reason (asked to stop, crashed, broke, never loaded). */
  onRetired(host: WorkerHost, error: WireError, wasStarting: boolean): void;
  /**
   * What the worker wrote past its jobs' logs, unmasked, as it arrives: a thread's raw writes to
   * fd 1 and 2 (stray-writes.ts), and what the plugin printed outside a run; `end`: the worker
   * left service (what is held of a line without its end is passed on).
   */
  onOutput?(stream: HostStrayStream, text: string, end?: boolean): void;
  /** The runner's own secrets, masked in what the worker prints before its first run. */
  redaction: CutRedaction;
  /**
   * Lets the pool queue runs behind a busy run (threads only: the claim slots are shared memory).
   * `stallMs`: a queued run not started by then is taken back (`onStalled`), and its result
   * promise resolves `undefined` for the pool to run it elsewhere.
   */
  pipeline?: { stallMs: number; onStalled(): void };
  /** The process's API rate-limit holds (shared memory, rate-holds.ts): given to built-in plugins' threads only. */
  rateHolds?: BigInt64Array;
}

/** The stray streams a worker host passes on (a process host's own stderr is the pool's). */
export type HostStrayStream = Exclude<StrayStream, "process stderr">;
