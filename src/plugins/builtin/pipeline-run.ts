// Following a pipeline run to its end (sync mode), shared by the GitHub, GitLab and Azure DevOps
// integrations: poll, report the run's jobs or stages as steps when they change, log each new
// state of the run (with what a waiting state waits for), stop on the final state, and on cancel
// or timeout cancel the run itself before giving up, reporting that as a step. When following
// fails otherwise, the error says the run may still be going, so nobody takes it for stopped.
// An API outage (5xx, network errors past the client's own retries) does not end a long run's
// job: the runner keeps polling for up to OUTAGE_MS before it gives up.

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
  /** What the state means, for the log and errors: "waits for a manual job", "was cancelled on GitLab". */
  meaning?: string;
}

export interface RunDriver {
  integration: string;
  /** "workflow run 123", "pipeline 45". */
  label: string;
  /** The run's web page, named when the runner stops following it. */
  url?: string;
  poll(): Promise<RunState>;
  /** Asks the API to cancel the run; gets its own signal, since the job's is already aborted. */
  cancel(signal: AbortSignal): Promise<void>;
}

/** How long the cancel call may take after the job was cancelled (the pool's grace is 2 s by default). */
export const CANCEL_BUDGET_MS = 1500;
/** How long the run may stay unreadable (answers the client retries in vain) before the job gives up on it. */
export const OUTAGE_MS = 10 * 60_000;

export async function followRun(driver: RunDriver, ctx: ActionContext, pollMs: number): Promise<RunState> {
  const seen = new Map<string, string>();
  let lastStatus: string | undefined;
  let failingSince: number | undefined;
  try {
    for (;;) {
      let state: RunState;
      try {
        state = await driver.poll();
        failingSince = undefined;
      } catch (error) {
        if (ctx.signal.aborted || !(error instanceof EdgeError) || !error.retryable) throw error;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > OUTAGE_MS) throw error;
        ctx.log.warn(`${driver.integration}: cannot read ${driver.label} (${errorMessage(error)}); trying again for up to ${OUTAGE_MS / 60_000} min`);
        await sleep(pollMs, ctx.signal);
        if (ctx.signal.aborted) throw new EdgeError("job_cancelled", "cancelled");
        continue;
      }
      for (const step of state.steps) {
        const key = `${step.status}|${step.message ?? ""}`;
        if (seen.get(step.id) === key) continue;
        seen.set(step.id, key);
        ctx.step(step);
      }
      if (state.status !== lastStatus) {
        lastStatus = state.status;
        ctx.log.info(`${driver.integration}: ${driver.label} is "${state.status}"${state.meaning === undefined ? "" : `: it ${state.meaning}`}`);
      }
      if (state.done) return state;
      await sleep(pollMs, ctx.signal);
      if (ctx.signal.aborted) throw new EdgeError("job_cancelled", "cancelled");
    }
  } catch (error) {
    if (!ctx.signal.aborted) throw stillGoing(driver, error);
    throw new EdgeError("job_cancelled", `${driver.integration}: stopped following ${driver.label}: the job was cancelled; ${await cancelRun(driver, ctx)}`);
  }
}

/** Cancels the run after the job's cancel or timeout; reports it as a step and says how it went. */
export async function cancelRun(driver: Pick<RunDriver, "integration" | "label" | "cancel">, ctx: ActionContext, signal = AbortSignal.timeout(CANCEL_BUDGET_MS)): Promise<string> {
  const step = { id: "cancel-run", name: `Cancel ${driver.label}` };
  try {
    await driver.cancel(signal);
    ctx.step({ ...step, status: "succeeded" });
    ctx.log.warn(`${driver.integration}: cancelled ${driver.label}`);
    return `${driver.label} was cancelled`;
  } catch (cancelError) {
    const why = errorMessage(cancelError);
    ctx.step({ ...step, status: "failed", message: why.slice(0, 500) });
    ctx.log.error(`${driver.integration}: cannot cancel ${driver.label}: ${why}`);
    return `cannot cancel ${driver.label}, it may still be running`;
  }
}

/**
 * The signal for the call that starts a run: it outlives the job's signal by CANCEL_BUDGET_MS, so
 * the answer of a trigger already sent when the job is cancelled still arrives, and the run it
 * started can be cancelled (cancelledAtStart) instead of going on unseen. It does not let a trigger
 * be sent after the cancel: ApiClient checks the job's own signal before every non-idempotent send.
 */
export function triggerSignal(job: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const later = (): void => {
    const timer = setTimeout(() => controller.abort(job.reason), CANCEL_BUDGET_MS);
    (timer as { unref?: () => void }).unref?.();
  };
  if (job.aborted) later();
  else job.addEventListener("abort", later, { once: true });
  return controller.signal;
}

/** The job was cancelled while its run was being started: cancel that run; the error to throw says how it went. */
export async function cancelledAtStart(driver: Pick<RunDriver, "integration" | "label" | "cancel">, ctx: ActionContext): Promise<EdgeError> {
  return new EdgeError("job_cancelled", `${driver.integration}: the job was cancelled while ${driver.label} was starting; ${await cancelRun(driver, ctx)}`);
}

function stillGoing(driver: RunDriver, error: unknown): Error {
  const where = `${driver.label} may still be running${driver.url === undefined ? "" : ` (${driver.url})`}`;
  if (error instanceof EdgeError) {
    return new EdgeError(error.code, `${error.message} (stopped following: ${where})`, { retryable: error.retryable, cause: error });
  }
  return new EdgeError("integration_failed", `${driver.integration}: stopped following ${driver.label}: ${errorMessage(error)} (${where})`, { cause: error });
}
