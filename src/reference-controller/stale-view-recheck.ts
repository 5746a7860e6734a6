// PostgreSQL replicas: a runner's session may move to a replica that has not yet heard of the
// last change of its job (the NOTIFY is on its way). A refusal the runner takes as final (a
// result answered stale_attempt or unknown_job: the runner drops it; a heartbeat lease answered
// ok:false: the runner aborts the job) is given only after the job's row was read again and the
// message handled again on that view. The embedded store has no other writer: no second look.

import { errorMessage } from "../errors.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { EdgeSession } from "./session.ts";

/** As job-read-through.ts: longer ids name no job, and are not read. */
const MAX_JOB_ID_CHARS = 128;

/**
 * Reads the rows (or the event counts) of `jobIds` and then runs `again` (the message handled once more, on the view
 * the read left). False when there is nothing to read (the embedded store): refuse now. A read
 * that fails answers nothing: the runner sends the message again (result, heartbeat) and is
 * answered then.
 */
export function recheckBeforeRefusal(core: ControllerCore, session: EdgeSession, jobIds: readonly string[], again: () => void, what: "job" | "events" = "job"): boolean {
  // The job's row, or its event count (a result answered events_missing makes the runner resend
  // events it may no longer hold, see docs/protocol.md).
  const source = what === "job" ? core.store : core.logs;
  if (source.readThrough === undefined) return false;
  // One query for all of them (a heartbeat may list thousands of leases); no id a job can have is longer.
  const ids = [...new Set(jobIds)].filter((id) => id.length > 0 && id.length <= MAX_JOB_ID_CHARS);
  if (ids.length === 0) return false;
  void source.readThrough(ids).then(
    () => {
      if (session.closed) return;
      try {
        again();
      } catch (error) {
        core.logger.warn("Cannot handle a runner message again after reading its job", { runnerId: session.runnerId, error: errorMessage(error).slice(0, 200) });
      }
    },
    (error: unknown) => core.logger.warn("Cannot read a job before refusing a runner's message about it; left unanswered", { runnerId: session.runnerId, error: errorMessage(error).slice(0, 200) }),
  );
  return true;
}
