// What the runner needs from whatever runs a job: the plugin pool in production, a fake in
// tests. The pool (src/plugins/pool.ts) implements it.

import type { LogLine, StepUpdate, WireError } from "../protocol/edge-v1.ts";
import type { WorkerInfo } from "../status/snapshot.ts";

export interface ExecuteRequest {
  jobId: string;
  attempt: number;
  plugin: string;
  action: string;
  input: unknown;
  timeoutMs: number;
  signal: AbortSignal;
  onLog(line: LogLine): void;
  onStep(step: StepUpdate): void;
}

export interface ExecuteOutcome {
  status: "succeeded" | "failed" | "cancelled" | "timed_out";
  output?: unknown;
  error?: WireError;
}

export interface JobExecutor {
  /** Never rejects: every fault of a plugin becomes an outcome. */
  run(request: ExecuteRequest): Promise<ExecuteOutcome>;
  workers(): WorkerInfo[];
  close(): Promise<void>;
}
