// The early warning of a full disk: a file of the store could not grow ahead of its data
// (append-file.ts gives up a step of zeros that does not fit), while changes are still written.
// Without it the operator hears nothing until the store fails and refuses every change (507).

import type { Logger } from "../log/logger.ts";
import { WarnLimiter } from "../log/warn-limiter.ts";
import { errnoOf } from "./store-failure.ts";

/** At most one warning per this many ms: a busy store meets a step per MiB written per file. */
const NEARLY_FULL_WARN_MS = 60_000;

/** Warns (rate-limited, for all files of one store) that `file` had no room ahead of its data. */
export function nearlyFullWarning(logger: Logger, now?: () => number): (file: string, error: Error) => void {
  const limiter = new WarnLimiter({ burst: 1, windowMs: NEARLY_FULL_WARN_MS, ...(now === undefined ? {} : { now }) });
  return function warnNearlyFull(file, error) {
    const { log, suppressed } = limiter.allow("no room ahead");
    if (!log) return;
    logger.warn("The controller's disk is nearly full: a file of its store cannot grow ahead of its data; changes are still written, and refused (507 store_full) once their data does not fit", {
      file,
      errno: errnoOf(error) ?? error.message.slice(0, 100),
      ...(suppressed > 0 ? { suppressed } : {}),
    });
  };
}
