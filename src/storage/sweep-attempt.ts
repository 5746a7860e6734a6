// One orphaned attempt: listed once, dated by its newest object (or what a killed process left),
// and deleted with the keys that listing found once it is older than the grace period.

import { stopped, stopSignal, sweepListing, type Sweep } from "./sweep-context.ts";
import { countFailure } from "./sweep-report.ts";
import { isDated } from "./undated-since.ts";

/**
 * Keys of one old attempt the sweep keeps from the listing that dates it, so it deletes them
 * without listing the attempt a second time (10 S3 pages of 1,000); an attempt with more is
 * listed again by deletePrefix, so memory stays bounded whatever a crashed process left.
 */
export const MAX_KEYS_HELD = 10_000;

/** What one listing of an attempt found: its newest date, whether an object had none, and its keys (undefined past MAX_KEYS_HELD). */
interface AttemptListing {
  newest: number | undefined;
  undatedObjects: boolean;
  keys: string[] | undefined;
}

/** Dates one attempt by its newest object (or leftover) and deletes it once past the grace period. */
export async function sweepAttempt(sweep: Sweep, prefix: string): Promise<void> {
  const { options, report, undated } = sweep;
  if (options.busy(prefix)) return;
  let listing: AttemptListing;
  try {
    listing = await listAttempt(sweep, prefix);
  } catch (error) {
    if (!stopped(options)) countFailure(report, error);
    return;
  }
  let newest = listing.newest;
  if (listing.undatedObjects) newest = Math.max(newest ?? 0, undated.attempt(prefix));
  else undated.forget(prefix);
  // Checked again: an attempt may have started while it was listed.
  if (newest === undefined || options.busy(prefix) || stopped(options)) return;
  if (options.now - newest < options.graceMs) {
    report.pending++;
    return;
  }
  try {
    // The keys just listed: one listing per old attempt, not one to date it and one to delete it.
    // Registered with no await since the busy() check: an attempt opened from now on waits for it.
    // The runner's stop ends it too: close() used to wait for a stalled store's deadlines.
    const keys = listing.keys;
    const deletion = () => options.store.deletePrefix(prefix, { ...(keys === undefined ? {} : { listed: keys }), ...stopSignal(options) });
    await (options.deletions === undefined ? deletion() : options.deletions.run(prefix, deletion));
    report.deleted++;
    undated.forget(prefix);
    options.onDeleted?.(prefix);
  } catch (error) {
    if (!stopped(options)) countFailure(report, error);
  }
}

async function listAttempt({ options }: Sweep, prefix: string): Promise<AttemptListing> {
  const found: AttemptListing = { newest: undefined, undatedObjects: false, keys: [] };
  for await (const info of options.store.list(prefix, sweepListing(options))) {
    if (isDated(info.lastModified)) found.newest = Math.max(found.newest ?? 0, info.lastModified);
    else found.undatedObjects = true;
    if (found.keys !== undefined && found.keys.length < MAX_KEYS_HELD) found.keys.push(info.key);
    else found.keys = undefined;
  }
  // A process killed mid-write leaves a temp file (up to an object's size) and no object: the
  // attempt is found, dated and deleted by what it left, not only by its objects.
  if (options.store.leftovers !== undefined) for await (const left of options.store.leftovers(prefix)) found.newest = Math.max(found.newest ?? 0, left.lastModified);
  return found;
}
