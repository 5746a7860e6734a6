// After a dispatch whose answer was lost (a 5xx, a reset connection): did it start a run? Only a
// run carrying the job's correlation id says yes. GitHub's run list shows a new run seconds after
// the dispatch, so "no" is believed only once the list had LIST_LAG_MS to show it; a list call
// that fails is an unknown, not a "no", and is thrown (the dispatch is then not sent again).

import { EdgeError } from "../../../errors.ts";
import { sleep } from "../../../util/time.ts";

/** How long GitHub's run list may take to show a run after its dispatch (seconds in practice). */
export const LIST_LAG_MS = 20_000;
/** The longest pause between two looks at the list while waiting out its lag. */
const LOOK_EVERY_MS = 2000;

export interface LostDispatchCheck {
  /** The run carrying the correlation id, or undefined when the list does not show it (yet). Throws when the list cannot be read. */
  findRun: () => Promise<unknown>;
  /** How long to wait for the list to show the run: LIST_LAG_MS, shorter when the job says so. */
  windowMs: number;
  pollMs: number;
  signal: AbortSignal;
}

/** True when the lost dispatch started a run; false only after the list's lag passed without one. */
export async function dispatchWentThrough(check: LostDispatchCheck, now: () => number = Date.now): Promise<boolean> {
  const deadline = now() + check.windowMs;
  for (;;) {
    if ((await check.findRun()) !== undefined) return true;
    if (now() >= deadline) return false;
    await sleep(Math.min(check.pollMs, LOOK_EVERY_MS, Math.max(0, deadline - now())), check.signal);
    if (check.signal.aborted) throw new EdgeError("job_cancelled", "GitHub: cancelled while checking whether the dispatch went through");
  }
}
