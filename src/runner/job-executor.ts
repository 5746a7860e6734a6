// What the runner needs from whatever runs a job: the plugin pool in production, a fake in
// tests. The request and outcome are the pool's own types (the runner depends on the pool, not
// the other way round); this interface is the part the runner calls.

import type { RunRequest } from "../plugins/pool-options.ts";
import type { RunOutcome } from "../plugins/run-outcome.ts";
import type { WorkerInfo } from "../status/snapshot.ts";

export type ExecuteRequest = RunRequest;
export type ExecuteOutcome = RunOutcome;

export interface JobExecutor {
  /** Never rejects: every fault of a plugin becomes an outcome. */
  run(request: ExecuteRequest): Promise<ExecuteOutcome>;
  workers(): WorkerInfo[];
  close(): Promise<void>;
}
