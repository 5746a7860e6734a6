// What a sweep is given (SweepOptions) and what one sweep under way carries from step to step
// (Sweep): the report it fills and the memories it hands to the next sweep. Also the runner's stop,
// which every request of a sweep takes.

import type { FailedListings } from "./failed-listings.ts";
import type { ListOptions, ObjectStore } from "./object-store.ts";
import type { PrefixDeletions } from "./prefix-deletions.ts";
import type { SweepReport } from "./sweep-report.ts";
import type { UndatedSince } from "./undated-since.ts";

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

/** One sweep under way. */
export interface Sweep {
  options: SweepOptions;
  report: SweepReport;
  /** When undated attempts and uploads were first seen (undated-since.ts). */
  undated: UndatedSince;
  /** Jobs whose listing failed, listed last (failed-listings.ts). */
  failedListings: FailedListings;
}

/** The sweep's listings: the runner's own connections (upkeep), ended by the runner's stop. */
export function sweepListing(options: SweepOptions): ListOptions {
  return { upkeep: true, ...stopSignal(options) };
}

/** The runner's stop, for every request of the sweep (listings, deletions, aborting uploads). */
export function stopSignal(options: SweepOptions): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

/** The runner is stopping: the sweep visits nothing more, and what fails now is not counted. */
export function stopped(options: SweepOptions): boolean {
  return options.signal?.aborted === true;
}
