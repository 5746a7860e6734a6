// Job prefixes whose listing failed at a sweep, listed after all the others at the next one. A
// sweep stops walking after MAX_FAILED_LISTINGS_IN_A_ROW failed job listings in a row (a stalled
// store costs each its deadlines), and the walk's order is the store's: jobs whose listing always
// fails (a denied prefix, an unreadable directory) came first at every sweep and stopped it
// before it reached any orphan after them.

import { isJobPrefix } from "./storage-keys.ts";

/** Job prefixes remembered; past that one more failed job is walked in its turn, as before. */
export const MAX_FAILED_JOBS = 10_000;

export class FailedListings {
  readonly #previous: ReadonlySet<string>;
  /** For the next sweep: what failed, and what failed before and was not listed since. */
  readonly next: Set<string>;
  /** Jobs of this sweep's walk that are (or go) in `next`. */
  readonly #named = new Set<string>();

  /** `previous`: the last sweep's `next`. */
  constructor(previous: ReadonlySet<string> = new Set()) {
    this.#previous = previous;
    this.next = new Set(previous);
  }

  /** True for a job whose listing failed at the last sweep: the walk lists it after the others. */
  failedLastTime(job: string): boolean {
    if (!this.#previous.has(job)) return false;
    this.#named.add(job);
    return true;
  }

  failed(job: string): void {
    this.#named.add(job);
    if (this.next.size < MAX_FAILED_JOBS) this.next.add(job);
  }

  listed(job: string): void {
    this.next.delete(job);
  }

  /** The walk of `runnerPrefix` named every job it has: one remembered there that it did not name is gone. */
  walked(runnerPrefix: string): void {
    for (const job of this.next) if (isJobPrefix(runnerPrefix, job) && !this.#named.has(job)) this.next.delete(job);
  }
}
