// Following a pipeline run to its end (sync mode), shared by the GitHub, GitLab and Azure DevOps
// integrations: poll, report the run's jobs or stages as steps when they change, stop on the
// final state, and on cancel or timeout cancel the run itself before giving up.

import { EdgeError, errorMessage } from "../../errors.ts";
import { sleep } from "../../util/time.ts";
import type { ActionContext, StepUpdate } from "../sdk.ts";

export interface RunState {
  done: boolean;
  /** Meaningful when done. */
  ok: boolean;
  /** The API's own words for the state: "in_progress", "success", "canceled". */
  status: string;
  steps: StepUpdate[];
}

export interface RunDriver {
  integration: string;
  /** "workflow run 123", "pipeline 45". */
  label: string;
  poll(): Promise<RunState>;
  /** Asks the API to cancel the run; gets its own signal, since the job's is already aborted. */
  cancel(signal: AbortSignal): Promise<void>;
}

/** How long the cancel call may take after the job was cancelled (the pool's grace is 2 s by default). */
const CANCEL_BUDGET_MS = 1500;

export async function followRun(driver: RunDriver, ctx: ActionContext, pollMs: number): Promise<RunState> {
  const seen = new Map<string, string>();
  try {
    for (;;) {
      const state = await driver.poll();
      for (const step of state.steps) {
        const key = `${step.status}|${step.message ?? ""}`;
        if (seen.get(step.id) === key) continue;
        seen.set(step.id, key);
        ctx.step(step);
      }
      if (state.done) return state;
      await sleep(pollMs, ctx.signal);
      if (ctx.signal.aborted) throw new EdgeError("job_cancelled", "cancelled");
    }
  } catch (error) {
    if (!ctx.signal.aborted) throw error;
    try {
      await driver.cancel(AbortSignal.timeout(CANCEL_BUDGET_MS));
      ctx.log.warn(`${driver.integration}: cancelled ${driver.label}`);
    } catch (cancelError) {
      ctx.log.error(`${driver.integration}: cannot cancel ${driver.label}: ${errorMessage(cancelError)}`);
    }
    throw new EdgeError("job_cancelled", `${driver.integration}: stopped following ${driver.label}: the job was cancelled`);
  }
}
