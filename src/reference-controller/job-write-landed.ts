// A change of one job that something outside answers for (an operator's cancel or decision, a
// pipeline's result), made until its write lands. On PostgreSQL another replica may change the job
// between this replica's view and its write: the write's compare-and-swap then loses, the store
// reloads the winner's row, and an answer built from the write would claim a state the database
// never held. So the change is made again on the reloaded job, where it may also refuse (a 409
// naming the job's real state).

import { EdgeError } from "../errors.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { StoredJob } from "./records.ts";

/** Each lost write means another replica changed the job in between; past this, the caller is asked to try again. */
const MAX_TRIES = 5;

/**
 * Runs `change` (a write of job `id` made on the current view; it throws to refuse) until its
 * write lands, and resolves with the job as stored once durable. `action` names it in the log and
 * in the error after MAX_TRIES lost writes ("cancel" → `Cannot cancel job "…"`).
 */
export async function changeUntilLanded(core: ControllerCore, id: string, action: string, change: () => StoredJob): Promise<StoredJob> {
  for (let tries = 1; ; tries++) {
    // Asked before the write: it names the batch the write joins (none on the embedded store, where every durable write landed).
    const landed = core.store.writeLanded?.(id);
    const written = change();
    await core.store.durable();
    // Landed: the stored job is ours, or newer (a runner's report since); pruned meanwhile, ours.
    if (landed === undefined || landed()) return core.store.jobs.get(id) ?? written;
    core.logger.info(`A ${action} of a job lost to another replica's change of it; made again on the stored job`, { jobId: id, tries });
    if (tries >= MAX_TRIES) {
      throw new EdgeError("conflict", `Cannot ${action} job "${id}": other controller replicas kept changing it (${MAX_TRIES} tries); try again`, { retryable: true });
    }
  }
}
