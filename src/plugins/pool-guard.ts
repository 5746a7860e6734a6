// How the pool keeps a bug or a throwing callback from stopping the runner: callbacks that run
// from a timer, an abort event or a worker message are wrapped, and a run's own callbacks
// (onLog, onStep) are called only while the run lasts, their throws logged.

import { serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Task } from "./pool-task.ts";

export function guarded<A extends unknown[]>(log: Logger, callback: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      callback(...args);
    } catch (error) {
      log.error("Plugin pool bug", { error: serializeError(error).message });
    }
  };
}

export function deliver<T>(log: Logger, task: Task, callback: (value: T) => void, value: T): void {
  if (task.done) return;
  try {
    callback(value);
  } catch (error) {
    log.error("Run callback threw", { jobId: task.request.jobId, error: serializeError(error).message });
  }
}
