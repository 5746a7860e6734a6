// A crash mid-upload leaves an unfinished multipart upload with no object to list, invisible but
// billed: the sweep aborts those of attempts not in use once they are older than the grace period
// (undated ones by when a sweep first saw them, undated-since.ts). Only stores with such uploads (S3).

import type { UploadInfo } from "./object-store.ts";
import { stopped, stopSignal, type Sweep } from "./sweep-context.ts";
import { countFailure } from "./sweep-report.ts";
import { attemptOf } from "./storage-keys.ts";
import { isDated } from "./undated-since.ts";

export async function abortStaleUploads(sweep: Sweep, runnerPrefix: string): Promise<void> {
  const { options, report, undated } = sweep;
  if (options.store.abortStaleUploads === undefined || stopped(options)) return;
  try {
    report.abortedUploads += await options.store.abortStaleUploads(runnerPrefix, { stale: (upload) => isStale(sweep, runnerPrefix, upload), ...stopSignal(options) });
    undated.listed(runnerPrefix, "uploads");
  } catch (error) {
    if (!stopped(options)) countFailure(report, error);
  }
}

/** An upload of this runner's layout, of an attempt not in use, begun (or, undated, first seen) before the grace period. */
function isStale({ options, undated }: Sweep, runnerPrefix: string, upload: UploadInfo): boolean {
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
}
