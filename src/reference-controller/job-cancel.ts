// An operator's cancel (the admin API, ReferenceController.cancelJob()), answered with the job as
// it is stored once durable. On PostgreSQL another replica may change the job between this
// replica's view and its write: the cancel's compare-and-swap then loses, the store reloads the
// winner's row, and an answer built from the write would show a `cancelled` the database never
// held. So the cancel is made again on the reloaded job: one still cancellable is cancelled (or
// `cancelling`), one that finished meanwhile is the usual 409 naming its real state.

import { EdgeError } from "../errors.ts";
import type { ControllerCore } from "./controller-core.ts";
import type { StoredJob } from "./records.ts";

/** Each lost write means another replica changed the job in between; past this, the caller is asked to try again. */
const MAX_TRIES = 5;

/** Cancels job `id` and resolves with it as stored once durable; rejects (409) if it finished, also meanwhile elsewhere. */
export async function cancelDurably(core: ControllerCore, id: string): Promise<StoredJob> {
  for (let tries = 1; ; tries++) {
    // Asked before the write: it names the batch the write joins (none on the embedded store, where every durable write landed).
    const landed = core.store.writeLanded?.(id);
    const written = core.cancelJob(id);
    await core.store.durable();
    // Landed: the stored job is ours, or newer (a runner's report since); pruned meanwhile, ours.
    if (landed === undefined || landed()) return core.store.jobs.get(id) ?? written;
    core.logger.info("Cancel lost to another replica's change of the job; made again on the stored job", { jobId: id, tries });
    if (tries >= MAX_TRIES) {
      throw new EdgeError("conflict", `Cannot cancel job "${id}": other controller replicas kept changing it (${MAX_TRIES} tries); try again`, { retryable: true });
    }
  }
}
