// What one sweep found and did, for the status page, the log and the next sweep: counts, the first
// skipped name, a few errors, and the two memories a sweep hands on (undated-since.ts,
// failed-listings.ts).

import { serializeError } from "../errors.ts";

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
/** Error messages kept: the first is logged, the rest are for a reader of the report. */
const MAX_ERRORS = 5;

/** A report with nothing counted yet, holding the memories this sweep hands to the next. */
export function emptySweepReport(memories: Pick<SweepReport, "undatedSince" | "failedJobs">): SweepReport {
  return { deleted: 0, pending: 0, failed: 0, abortedUploads: 0, skipped: 0, ...memories, errors: [] };
}

/** A listed name outside the runner's layout: counted, the first kept (cut), nothing deleted under it. */
export function countSkipped(report: SweepReport, name: string): void {
  if (report.skipped++ === 0) report.firstSkipped = name.length > MAX_NAME_CHARS ? `${name.slice(0, MAX_NAME_CHARS)}… (${name.length} characters)` : name;
}

/** A listing or deletion that failed: counted, the walk goes on (the next sweep tries again). */
export function countFailure(report: SweepReport, error: unknown): void {
  report.failed++;
  if (report.errors.length < MAX_ERRORS) report.errors.push(serializeError(error).message);
}
