// A run request's task as the pool starts it: the job's host calls (secrets, storage, artifacts)
// and the sink that redacts and bounds whatever the plugin sends before the runner sees it.

import { noArtifactSink } from "../artifacts/artifact-sink.ts";
import type { Logger } from "../log/logger.ts";
import { redactor } from "../log/redact.ts";
import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { StorageService } from "../storage/storage-service.ts";
import type { Timers } from "../util/time.ts";
import { JobCalls } from "./host-calls.ts";
import { boundLine, boundStep } from "./job-text.ts";
import type { PluginPoolOptions, RunRequest } from "./pool-options.ts";
import { deliver, guarded } from "./pool-guard.ts";
import type { Task } from "./pool-task.ts";
import type { Ending } from "./run-outcome.ts";
import { jobSecretResolver } from "./run-services.ts";

export interface TaskServices {
  readonly options: PluginPoolOptions;
  readonly storage: StorageService;
  /** The pool's logger. */
  readonly log: Logger;
  readonly timers: Pick<Timers, "now">;
  /** Ends the task early: its cancel or the runner's interrupt (PluginPool, #end). */
  end(task: Task, why: Ending): void;
}

export function startTask(request: RunRequest, resolve: (outcome: JobOutcome) => void, services: TaskServices): Task {
  const { options, log, timers } = services;
  const redaction = request.redaction ?? redactor;
  const { interrupt } = request;
  let anySignal: AbortSignal | undefined;
  const task: Task = {
    calls: new JobCalls({
      jobId: request.jobId,
      attempt: request.attempt,
      secrets: options.secrets?.(request) ?? jobSecretResolver(request.jobId, request.secrets),
      storage: services.storage,
      artifacts: options.artifacts?.(request) ?? noArtifactSink,
      artifactMaxBytes: options.artifactMaxBytes ?? 100 * 1024 * 1024,
      // Made at the first host call that needs it: AbortSignal.any() per job showed in the profile.
      signal: interrupt === undefined ? () => request.signal : () => (anySignal ??= AbortSignal.any([request.signal, interrupt])),
      redaction,
      warn: (msg) => task.sink.onLog({ ts: timers.now(), level: "warn", msg }),
    }),
    childGroups: new Set(),
    request, resolve, redaction, group: undefined, host: undefined, runId: 0, ending: undefined, done: false, deadline: undefined, grace: undefined,
    onAbort: guarded(log, () => services.end(task, "cancelled")),
    onInterrupt: guarded(log, () => services.end(task, "interrupted")),
    sink: {
      // The one place a plugin's text is redacted, then clipped (job-text.ts), before anyone sees it.
      onLog: (line) => deliver(log, task, request.onLog, boundLine(redaction, line, timers.now)),
      onStep: (step) => {
        const bounded = boundStep(redaction, step);
        if (typeof bounded === "string") log.warn(`Dropped a step from plugin "${request.plugin}": ${bounded}`, { jobId: request.jobId });
        else deliver(log, task, request.onStep, bounded);
      },
      call: (call) => task.calls.answer(call),
      onSpawned: (pid) => task.childGroups.add(pid),
      redaction,
    },
  };
  return task;
}
