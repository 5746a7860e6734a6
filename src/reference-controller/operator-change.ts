// An operator's change of one job (a cancel; an approval or rejection of its manual step), answered
// with the job as it is stored once durable (job-write-landed.ts: on PostgreSQL a write lost to
// another replica is made again on the reloaded job). A cancel of a job still cancellable wins
// (`cancelled` or `cancelling`); a job that finished, or was decided, meanwhile is the usual 409
// naming its real state.

import type { ControllerCore } from "./controller-core.ts";
import { decideApproval } from "./job-callbacks.ts";
import { changeUntilLanded } from "./job-write-landed.ts";
import type { StoredJob } from "./records.ts";

/** Cancels job `id`; resolves with it as stored once durable, rejects (409) if it finished, also meanwhile elsewhere. */
export function cancelDurably(core: ControllerCore, id: string): Promise<StoredJob> {
  return changeUntilLanded(core, id, "cancel", () => core.cancelJob(id));
}

/** Approves or rejects job `id`'s manual step; resolves with it as stored, rejects (409) if it ended or was decided, also meanwhile elsewhere. */
export function decideDurably(core: ControllerCore, id: string, decision: "approved" | "rejected", comment?: string): Promise<StoredJob> {
  return changeUntilLanded(core, id, decision === "approved" ? "approve" : "reject", () => decideApproval(core, id, decision, comment));
}
