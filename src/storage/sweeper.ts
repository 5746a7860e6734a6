// Finds what a crashed process of this runner left behind: attempt prefixes under its own
// `<runnerId>/` that no attempt of this process is using, and deletes those whose newest object
// is older than the grace period. Only the runner's own prefix (and where an earlier version kept
// it) is ever listed, so another runner sharing the bucket is never touched.

import { serializeError } from "../errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { attemptOf } from "./storage-keys.ts";

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
}

export interface SweepReport {
  /** Orphaned attempts deleted. */
  deleted: number;
  /** Orphaned attempts younger than the grace period, left for a later sweep. */
  pending: number;
  /** Orphaned attempts whose deletion failed (retried at the next sweep). */
  failed: number;
  /** Unfinished multipart uploads of orphaned attempts that were aborted. */
  abortedUploads: number;
  errors: string[];
}

export async function sweepOrphans(options: SweepOptions): Promise<SweepReport> {
  const report: SweepReport = { deleted: 0, pending: 0, failed: 0, abortedUploads: 0, errors: [] };
  for (const runnerPrefix of options.runnerPrefixes) await sweepRunner(options, runnerPrefix, report);
  return report;
}

async function sweepRunner(options: SweepOptions, runnerPrefix: string, report: SweepReport): Promise<void> {
  const newest = new Map<string, number>();
  const note = (key: string, modified: number): void => {
    const prefix = attemptOf(runnerPrefix, key);
    if (prefix === undefined || options.busy(prefix)) return;
    newest.set(prefix, Math.max(newest.get(prefix) ?? 0, modified));
  };
  for await (const info of options.store.list(runnerPrefix, { upkeep: true })) note(info.key, info.lastModified);
  // A process killed mid-write leaves a temp file (up to an object's size) and no object: the
  // attempt is found, dated and deleted by what it left, not only by its objects.
  if (options.store.leftovers !== undefined) for await (const left of options.store.leftovers(runnerPrefix)) note(left.key, left.lastModified);
  for (const [prefix, modified] of newest) {
    // Checked again: an attempt may have started between the listing and now.
    if (options.busy(prefix)) continue;
    if (options.now - modified < options.graceMs) {
      report.pending++;
      continue;
    }
    try {
      await options.store.deletePrefix(prefix);
      report.deleted++;
      options.onDeleted?.(prefix);
    } catch (error) {
      report.failed++;
      if (report.errors.length < 5) report.errors.push(serializeError(error).message);
    }
  }
  // A crash mid-upload leaves a multipart upload with no object to list: abort those too.
  if (options.store.abortStaleUploads !== undefined) {
    try {
      report.abortedUploads += await options.store.abortStaleUploads(runnerPrefix, options.now - options.graceMs, (key) => {
        const prefix = attemptOf(runnerPrefix, key);
        return prefix === undefined || options.busy(prefix);
      });
    } catch (error) {
      report.failed++;
      if (report.errors.length < 5) report.errors.push(serializeError(error).message);
    }
  }
}
