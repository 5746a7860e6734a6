// Finds what a crashed process of this runner left behind: attempt prefixes under its own
// `<runnerId>/` that no attempt of this process is using, and deletes those whose newest object
// is older than the grace period. Only the runner's own prefix (and where an earlier version kept
// it) is ever listed, so another runner sharing the bucket is never touched.

import { serializeError } from "../errors.ts";
import { FailedListings } from "./failed-listings.ts";
import type { ListOptions, ObjectStore } from "./object-store.ts";
import type { PrefixDeletions } from "./prefix-deletions.ts";
import { attemptOf, isJobPrefix } from "./storage-keys.ts";
import { UndatedSince } from "./undated-since.ts";

export { MAX_UNDATED_ATTEMPTS } from "./undated-since.ts";

export interface SweepOptions {
  store: ObjectStore;
  /** `<runnerId>/`, and where earlier versions kept this runner's objects if that differs (storage-keys.ts). */
  runnerPrefixes: readonly string[];
  /** True for an attempt prefix this process still uses (running, or its cleanup in progress). */
  busy(prefix: string): boolean;
  graceMs: number;
  now: number;
  /** Told each attempt prefix the sweep deleted. */
  onDeleted?(prefix: string): void;
  /**
   * Where the sweep's deletions are registered as they start, right after the last busy() check:
   * the same attempt opened again while one is under way waits for it (prefix-deletions.ts).
   */
  deletions?: PrefixDeletions;
  /** Ends the sweep (the runner stops): its listings are aborted and no further prefix is visited. */
  signal?: AbortSignal;
  /** The last sweep's SweepReport.undatedSince: when it first saw each attempt whose objects carry no date. */
  undatedSince?: ReadonlyMap<string, number>;
  /** The last sweep's SweepReport.failedJobs: listed after the other jobs. */
  failedJobs?: ReadonlySet<string>;
}

/**
 * Job listings that may fail in a row before the sweep gives up on this runner prefix until the
 * next sweep: on a stalled store each costs its retries and deadlines (~90 s on S3), and a walk
 * job by job would otherwise pay that for every job. A job whose listing failed is listed after
 * the others at the next sweep (failed-listings.ts), so jobs that always fail cannot use up the
 * count before the walk reaches the rest.
 */
export const MAX_FAILED_LISTINGS_IN_A_ROW = 3;

/**
 * Keys of one old attempt the sweep keeps from the listing that dates it, so it deletes them
 * without listing the attempt a second time (10 S3 pages of 1,000); an attempt with more is
 * listed again by deletePrefix, so memory stays bounded whatever a crashed process left.
 */
export const MAX_KEYS_HELD = 10_000;

export interface SweepReport {
  /** Orphaned attempts deleted. */
  deleted: number;
  /** Orphaned attempts younger than the grace period, left for a later sweep. */
  pending: number;
  /** Orphaned attempts whose deletion failed, and listings that failed (retried at the next sweep). */
  failed: number;
  /** Unfinished multipart uploads of orphaned attempts that were aborted. */
  abortedUploads: number;
  /**
   * Names the job and attempt listings answered that are not this runner's `<job>/<attempt>/`
   * layout (or not one plain segment below): skipped, never deleted under.
   */
  skipped: number;
  /** The first of them, cut to MAX_NAME_CHARS (the store's to choose). */
  firstSkipped?: string;
  /**
   * Attempts with an object the store gave no date (a listing without LastModified), and
   * unfinished uploads listed without an Initiated date (keyed as undated-since.ts spells them), each with when a
   * sweep of this process first saw it: such an attempt or upload is dated by that, so it waits
   * the grace period too (dated at the epoch, it used to go at the first sweep). The last sweep's
   * entries are carried on until a sweep finds the attempt dated, empty or deleted (or the
   * upload dated or aborted), or a listing that ended no longer names it (undated-since.ts). At
   * most MAX_UNDATED_ATTEMPTS of both; one past that is dated by this sweep, so it waits.
   */
  undatedSince: Map<string, number>;
  /**
   * Job prefixes whose listing failed, and those that failed before and were not listed since:
   * the next sweep lists them after the others. At most MAX_FAILED_JOBS.
   */
  failedJobs: Set<string>;
  errors: string[];
}

/** Characters of a skipped name kept for the report and its log line. */
const MAX_NAME_CHARS = 200;

export async function sweepOrphans(options: SweepOptions): Promise<SweepReport> {
  const failedListings = new FailedListings(options.failedJobs);
  const undated = new UndatedSince(options.undatedSince, options.now);
  const report: SweepReport = { deleted: 0, pending: 0, failed: 0, abortedUploads: 0, skipped: 0, undatedSince: undated.next, failedJobs: failedListings.next, errors: [] };
  for (const runnerPrefix of options.runnerPrefixes) {
    await sweepRunner(options, runnerPrefix, report, { failedListings, undated });
    undated.prune(runnerPrefix);
  }
  return report;
}

/** What one sweep hands on to the next (failed-listings.ts, undated-since.ts). */
interface Memory {
  failedListings: FailedListings;
  undated: UndatedSince;
}

async function sweepRunner(options: SweepOptions, runnerPrefix: string, report: SweepReport, { failedListings, undated }: Memory): Promise<void> {
  // Level by level (job, then attempt), each attempt listed, dated and deleted on its own: no
  // listing holds more than one attempt's objects (storageMaxJobObjects), so however many objects
  // live attempts hold, a sweep stays bounded, and one attempt that cannot be listed or deleted
  // does not stop the rest. (Listing the whole runner prefix first failed every sweep once it
  // passed the S3 listing cap, and then no orphan was ever deleted.)
  // A name outside the layout is skipped and counted, and the walk goes on: one such name used to
  // end the whole walk, at every sweep.
  const listing: ListOptions = { ...listingOf(options), onRefused: (name) => skip(report, name) };
  const stopped = () => stoppedOf(options);
  let failedInARow = 0;
  /** Sweeps one job's attempts; false when the walk is to end (stopped, or too many failures in a row). */
  const sweepJob = async (job: string): Promise<boolean> => {
    try {
      for await (const attempt of options.store.children(job, listing)) {
        if (stopped()) return false;
        if (attemptOf(runnerPrefix, attempt) === attempt) {
          undated.named(attempt);
          await sweepAttempt(options, attempt, report, undated);
        } else skip(report, attempt);
      }
      failedListings.listed(job);
      undated.listed(job);
      failedInARow = 0;
      return true;
    } catch (error) {
      if (stopped()) return false;
      fail(report, error);
      failedListings.failed(job);
      return ++failedInARow < MAX_FAILED_LISTINGS_IN_A_ROW;
    }
  };
  // Jobs whose listing failed at the last sweep, listed last: those that always fail used to come
  // first at every sweep, use up the failures in a row and stop it before any orphan after them.
  const later: string[] = [];
  let walked = false;
  try {
    for await (const job of options.store.children(runnerPrefix, listing)) {
      if (stopped()) return;
      if (!isJobPrefix(runnerPrefix, job)) {
        skip(report, job);
        continue;
      }
      undated.named(job);
      if (failedListings.failedLastTime(job)) later.push(job);
      else if (!await sweepJob(job)) return;
    }
    walked = true;
    failedListings.walked(runnerPrefix);
    undated.listed(runnerPrefix);
  } catch (error) {
    if (stopped()) return;
    fail(report, error);
  }
  await abortStaleUploads(options, runnerPrefix, report, undated);
  if (!walked) return;
  failedInARow = 0;
  for (const job of later) if (stopped() || !await sweepJob(job)) return;
}

/** A crash mid-upload leaves a multipart upload with no object to list: abort those too. */
async function abortStaleUploads(options: SweepOptions, runnerPrefix: string, report: SweepReport, undated: UndatedSince): Promise<void> {
  if (options.store.abortStaleUploads !== undefined && !stoppedOf(options)) {
    try {
      report.abortedUploads += await options.store.abortStaleUploads(runnerPrefix, {
        stale: (upload) => {
          const prefix = attemptOf(runnerPrefix, upload.key);
          if (prefix === undefined) return false;
          // Remembered as it was: when it is not in use any more, it has waited since then.
          if (options.busy(prefix)) {
            undated.keep(upload);
            return false;
          }
          if (isDated(upload.initiated)) return upload.initiated < options.now - options.graceMs;
          if (undated.upload(upload) < options.now - options.graceMs) return true;
          undated.keep(upload);
          return false;
        },
        ...signalOf(options),
      });
      undated.listed(runnerPrefix, "uploads");
    } catch (error) {
      if (!stoppedOf(options)) fail(report, error);
    }
  }
}

/** Dates one attempt by its newest object (or leftover) and deletes it once past the grace period. */
async function sweepAttempt(options: SweepOptions, prefix: string, report: SweepReport, undated: UndatedSince): Promise<void> {
  if (options.busy(prefix)) return;
  let newest: number | undefined;
  let undatedObjects = false;
  let keys: string[] | undefined = [];
  try {
    for await (const info of options.store.list(prefix, listingOf(options))) {
      if (isDated(info.lastModified)) newest = Math.max(newest ?? 0, info.lastModified);
      else undatedObjects = true;
      if (keys !== undefined && keys.length < MAX_KEYS_HELD) keys.push(info.key);
      else keys = undefined;
    }
    // A process killed mid-write leaves a temp file (up to an object's size) and no object: the
    // attempt is found, dated and deleted by what it left, not only by its objects.
    if (options.store.leftovers !== undefined) for await (const left of options.store.leftovers(prefix)) newest = Math.max(newest ?? 0, left.lastModified);
  } catch (error) {
    if (!stoppedOf(options)) fail(report, error);
    return;
  }
  if (undatedObjects) newest = Math.max(newest ?? 0, undated.attempt(prefix));
  else undated.forget(prefix);
  // Checked again: an attempt may have started while it was listed.
  if (newest === undefined || options.busy(prefix) || stoppedOf(options)) return;
  if (options.now - newest < options.graceMs) {
    report.pending++;
    return;
  }
  try {
    // The keys just listed: one listing per old attempt, not one to date it and one to delete it.
    // Registered with no await since the busy() check: an attempt opened from now on waits for it.
    // The runner's stop ends it too: close() used to wait for a stalled store's deadlines.
    const deletion = () => options.store.deletePrefix(prefix, { ...(keys === undefined ? {} : { listed: keys }), ...signalOf(options) });
    await (options.deletions === undefined ? deletion() : options.deletions.run(prefix, deletion));
    report.deleted++;
    undated.forget(prefix);
    options.onDeleted?.(prefix);
  } catch (error) {
    if (!stoppedOf(options)) fail(report, error);
  }
}

/** A date a store gave (epoch ms): not 0 (none given), NaN or negative. */
function isDated(ms: number): boolean {
  return Number.isFinite(ms) && ms > 0;
}

/** The sweep's listings: the runner's own connections (upkeep), ended by the runner's stop. */
function listingOf(options: SweepOptions): ListOptions {
  return { upkeep: true, ...signalOf(options) };
}

/** The runner's stop, for every request of the sweep (listings, deletions, aborting uploads). */
function signalOf(options: SweepOptions): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

function stoppedOf(options: SweepOptions): boolean {
  return options.signal?.aborted === true;
}

function skip(report: SweepReport, name: string): void {
  if (report.skipped++ === 0) report.firstSkipped = name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}… (${name.length} characters)` : name;
}

function fail(report: SweepReport, error: unknown): void {
  report.failed++;
  if (report.errors.length < 5) report.errors.push(serializeError(error).message);
}
