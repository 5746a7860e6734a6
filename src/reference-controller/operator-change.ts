// An operator's change of one job (a cancel; an approval or rejection of its manual step), answered
// with the job as it is stored once durable. On PostgreSQL another replica may change the job
// between this replica's view and its write: the write's compare-and-swap then loses, the store
// reloads the winner's row, and an answer built from the write would show a state the database
// never held. So the change is made again on the reloaded job: a cancel of a job still cancellable
// wins (`cancelled` or `cancelling`); one that finished, or was decided, meanwhile is the usual 409
// naming its real state.

import { EdgeError } from "../errors.ts";
import type { ControllerCore } from "./controller-core.ts";
import { decideApproval } from "./job-callbacks.ts";
import type { StoredJob } from "./records.ts";

/** Each lost write means another replica changed the job in between; past this, the caller is asked to try again. */
const MAX_TRIES = 5;

/** Cancels job `id`; resolves with it as stored once durable, rejects (409) if it finished, also meanwhile elsewhere. */
export function cancelDurably(core: ControllerCore, id: string): Promise<StoredJob> {
  return changeUntilLanded(core, id, "cancel", () => core.cancelJob(id));
}

/** Approves or rejects job `id`'s manual step; resolves with it as stored, rejects (409) if it ended or was decided, also meanwhile elsewhere. */
export function decideDurably(core: ControllerCore, id: string, decision: "approved" | "rejected", comment?: string): Promise<StoredJob> {
  return changeUntilLanded(core, id, decision === "approved" ? "approve" : "reject", () => decideApproval(core, id, decision, comment));
}

/** Runs `change` (a write of job `id` made on the current view) until its write lands; resolves with the job as stored. */
async function changeUntilLanded(core: ControllerCore, id: string, action: string, change: () => StoredJob): Promise<StoredJob> {
  for (let tries = 1; ; tries++) {
    // Asked before the write: it names the batch the write joins (none on the embedded store, where every durable write landed).
    const landed = core.store.writeLanded?.(id);
    const written = change();
    await core.store.durable();
    // Landed: the stored job is ours, or newer (a runner's report since); pruned meanwhile, ours.
    if (landed === undefined || landed()) return core.store.jobs.get(id) ?? written;
    core.logger.info(`Operator's ${action} lost to another replica's change of the job; made again on the stored job`, { jobId: id, tries });
    if (tries >= MAX_TRIES) {
      throw new EdgeError("conflict", `Cannot ${action} job "${id}": other controller replicas kept changing it (${MAX_TRIES} tries); try again`, { retryable: true });
    }
  }
}
