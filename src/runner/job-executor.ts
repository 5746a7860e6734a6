// What the runner needs from whatever runs a job: the plugin pool in production, a fake in
// tests. The request is the pool's own type and the outcome the protocol's (the runner depends
// on the pool, not the other way round); this interface is the part the runner calls.

import type { RunRequest } from "../plugins/pool-options.ts";
import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { WorkerInfo } from "../plugins/worker-state.ts";

export interface JobExecutor {
  /** Never rejects: every fault of a plugin becomes an outcome, its text already redacted and clipped. */
  run(request: RunRequest): Promise<JobOutcome>;
  workers(): WorkerInfo[];
  close(): Promise<void>;
}
