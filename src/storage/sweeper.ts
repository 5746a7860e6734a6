// Finds what a crashed process of this runner left behind: attempt prefixes under its own
// `<runnerId>/` that no attempt of this process is using, and deletes those whose newest object
// is older than the grace period. Only the runner's own prefix (and where an earlier version kept
// it) is ever listed, so another runner sharing the bucket is never touched. This file walks the
// prefixes; one attempt is sweep-attempt.ts, unfinished uploads sweep-uploads.ts.

import { FailedListings } from "./failed-listings.ts";
import type { ListOptions } from "./object-store.ts";
import { attemptOf, isJobPrefix } from "./storage-keys.ts";
import { sweepAttempt } from "./sweep-attempt.ts";
import { stopped, sweepListing, type Sweep, type SweepOptions } from "./sweep-context.ts";
import { countFailure, countSkipped, emptySweepReport, type SweepReport } from "./sweep-report.ts";
import { abortStaleUploads } from "./sweep-uploads.ts";
import { UndatedSince } from "./undated-since.ts";

/**
 * Job listings that may fail in a row before the sweep gives up on this runner prefix until the
 * next sweep: on a stalled store each costs its retries and deadlines (~90 s on S3), and a walk
 * job by job would otherwise pay that for every job. A job whose listing failed is listed after
 * the others at the next sweep (failed-listings.ts), so jobs that always fail cannot use up the
 * count before the walk reaches the rest.
 */
export const MAX_FAILED_LISTINGS_IN_A_ROW = 3;

export async function sweepOrphans(options: SweepOptions): Promise<SweepReport> {
  const failedListings = new FailedListings(options.failedJobs);
  const undated = new UndatedSince(options.undatedSince, options.now);
  const report = emptySweepReport({ undatedSince: undated.next, failedJobs: failedListings.next });
  const sweep: Sweep = { options, report, undated, failedListings };
  for (const runnerPrefix of options.runnerPrefixes) {
    await new RunnerWalk(sweep, runnerPrefix).run();
    undated.prune(runnerPrefix);
  }
  return report;
}

/**
 * How the walk of a runner prefix's jobs ended: it listed them all; the runner listing failed
 * (stale uploads are still looked at); or it ended early, as the runner stops or after
 * MAX_FAILED_LISTINGS_IN_A_ROW failed job listings (nothing more under this prefix this sweep).
 */
type JobsWalked = "listed_all" | "listing_failed" | "ended";

/** After one job's listing: the walk goes on to the next job, or ends (see JobsWalked). */
type AfterJob = "go_on" | "end_walk";

/**
 * One runner prefix, level by level (job, then attempt), each attempt listed, dated and deleted on
 * its own: no listing holds more than one attempt's objects (storageMaxJobObjects), so however
 * many objects live attempts hold, a sweep stays bounded, and one attempt that cannot be listed or
 * deleted does not stop the rest. (Listing the whole runner prefix first failed every sweep once
 * it passed the S3 listing cap, and then no orphan was ever deleted.) A name outside the layout is
 * skipped and counted, and the walk goes on: one such name used to end the whole walk, at every sweep.
 */
class RunnerWalk {
  readonly #sweep: Sweep;
  readonly #runnerPrefix: string;
  readonly #listing: ListOptions;
  #failedInARow = 0;

  constructor(sweep: Sweep, runnerPrefix: string) {
    this.#sweep = sweep;
    this.#runnerPrefix = runnerPrefix;
    this.#listing = { ...sweepListing(sweep.options), onRefused: (name) => countSkipped(sweep.report, name) };
  }

  async run(): Promise<void> {
    // Jobs whose listing failed at the last sweep, listed last: those that always fail used to come
    // first at every sweep, use up the failures in a row and stop it before any orphan after them.
    const later: string[] = [];
    const walked = await this.#walkJobs(later);
    if (walked === "ended") return;
    await abortStaleUploads(this.#sweep, this.#runnerPrefix);
    if (walked !== "listed_all") return;
    this.#failedInARow = 0;
    for (const job of later) if (stopped(this.#sweep.options) || await this.#sweepJob(job) === "end_walk") return;
  }

  /** Sweeps each job the runner prefix's listing names, but those whose listing failed at the last sweep, which go to `later`. */
  async #walkJobs(later: string[]): Promise<JobsWalked> {
    const { options, report, undated, failedListings } = this.#sweep;
    try {
      for await (const job of options.store.children(this.#runnerPrefix, this.#listing)) {
        if (stopped(options)) return "ended";
        if (!isJobPrefix(this.#runnerPrefix, job)) {
          countSkipped(report, job);
          continue;
        }
        undated.named(job);
        if (failedListings.failedLastTime(job)) later.push(job);
        else if (await this.#sweepJob(job) === "end_walk") return "ended";
      }
    } catch (error) {
      if (stopped(options)) return "ended";
      countFailure(report, error);
      return "listing_failed";
    }
    failedListings.walked(this.#runnerPrefix);
    undated.listed(this.#runnerPrefix);
    return "listed_all";
  }

  /** Sweeps one job's attempts; a failed listing counts toward MAX_FAILED_LISTINGS_IN_A_ROW. */
  async #sweepJob(job: string): Promise<AfterJob> {
    const { options, report, undated, failedListings } = this.#sweep;
    try {
      for await (const attempt of options.store.children(job, this.#listing)) {
        if (stopped(options)) return "end_walk";
        if (attemptOf(this.#runnerPrefix, attempt) === attempt) {
          undated.named(attempt);
          await sweepAttempt(this.#sweep, attempt);
        } else countSkipped(report, attempt);
      }
      failedListings.listed(job);
      undated.listed(job);
      this.#failedInARow = 0;
      return "go_on";
    } catch (error) {
      if (stopped(options)) return "end_walk";
      countFailure(report, error);
      failedListings.failed(job);
      return ++this.#failedInARow < MAX_FAILED_LISTINGS_IN_A_ROW ? "go_on" : "end_walk";
    }
  }
}
