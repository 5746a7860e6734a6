// What the pool tracks: a group of workers per plugin source, and a task per run request.

import type { RedactionScope } from "../log/redact.ts";
import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { JobCalls } from "./host-calls.ts";
import type { RunRequest } from "./pool-options.ts";
import type { PluginPolicy } from "./pool-policy.ts";
import type { Ending } from "./run-outcome.ts";
import type { WorkerHost } from "./worker-host.ts";
import type { RunSink } from "./worker-host-options.ts";
import type { PluginSource } from "./worker-protocol.ts";

export interface Group {
  readonly key: string;
  readonly label: string;
  readonly source: PluginSource;
  readonly policy: PluginPolicy;
  readonly hosts: Set<WorkerHost>;
  /** Most recently used last: the warmest worker is reused first, the coldest idles out. */
  readonly idle: WorkerHost[];
  readonly queue: Task[];
  /** The score of runs that ended fast: past a threshold, runs may wait behind busy workers (pool-pipeline.ts). */
  fastRuns: number;
}

export interface Task {
  readonly request: RunRequest;
  readonly resolve: (outcome: JobOutcome) => void;
  readonly sink: RunSink;
  readonly onAbort: () => void;
  readonly onInterrupt: () => void;
  readonly redaction: RedactionScope;
  readonly calls: JobCalls;
  /** Process groups of the children this run started; stopped when the job ends, whatever its outcome. */
  readonly childGroups: Set<number>;
  group: Group | undefined;
  host: WorkerHost | undefined;
  runId: number;
  ending: Ending | undefined;
  done: boolean;
  deadline: unknown;
  grace: unknown;
}
