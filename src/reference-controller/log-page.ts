// Where one `GET /api/v1/jobs/:id/logs` page ends, the same in both stores (job-logs.ts and
// postgres/pg-job-logs.ts): each reads its candidate events' stored sizes first (the embedded
// index, the database's `bytes` column) and only the events of the page after.

import { MAX_LOG_PAGE_BYTES } from "./store-file-bounds.ts";

/**
 * How many of `sizes` (the stored bytes of the next events, in seq order, already cut to the
 * page's `limit`) one page holds: it ends before the event that would take it past `maxBytes`,
 * and never before the first (one event is at most MAX_EVENT_LINE_BYTES), so a page is empty only
 * when no event is left.
 */
export function logPageLength(sizes: readonly number[], maxBytes = MAX_LOG_PAGE_BYTES): number {
  let bytes = 0;
  for (const [i, size] of sizes.entries()) {
    bytes += size;
    if (i > 0 && bytes > maxBytes) return i;
  }
  return sizes.length;
}
