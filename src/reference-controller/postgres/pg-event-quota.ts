// The event quotas (`jobLogMaxBytes` per job, `eventJournalMaxBytes` in all) for the database as
// a whole, however many replicas store events: decided inside each batch's transaction against
// totals kept in the database (`job_event_totals`, one row; `job_event_sizes`, one row per job).
// Every batch that stores or deletes events locks the totals row first, so batches of different
// replicas take their turns and each sees what the one before it stored: the limits hold exactly,
// not per replica. The cost is that lock, held from the events' insert to COMMIT, once per batch
// (not per event); a running sum over job_events instead would read every event row of a busy
// job in every batch. Past a quota an event keeps its place (seq, attempt, attemptSeq, so acks
// and `lastSeq` stay true): the first becomes the truncation marker, later ones lose their lines,
// as with the embedded journal (job-logs.ts).

import type { TransactionSql } from "postgres";
import { DEFAULT_EVENT_JOURNAL_MAX_BYTES, DEFAULT_JOB_LOG_MAX_BYTES, truncationLine, type JobEvent } from "../job-logs.ts";

export interface EventQuota {
  jobMaxBytes: number;
  maxBytes: number;
  /** The truncation marker's timestamp. */
  now: () => number;
}

export const DEFAULT_EVENT_QUOTA: EventQuota = { jobMaxBytes: DEFAULT_JOB_LOG_MAX_BYTES, maxBytes: DEFAULT_EVENT_JOURNAL_MAX_BYTES, now: () => Date.now() };

export interface QuotaEvent {
  jobId: string;
  event: JobEvent;
  bytes: number;
}

/** The database's totals once a batch committed: bytes in all, and per job of the batch. */
export interface EventSizes {
  total: number;
  jobs: Map<string, { bytes: number; truncated: boolean }>;
}

/** The bytes an event counts for (its stored JSON and key), the same on every replica. */
export function storedEventBytes(jobId: string, event: JobEvent): number {
  return Buffer.byteLength(JSON.stringify(event)) + jobId.length + 12;
}

/**
 * Within `tx`: takes the totals row's lock, forgets the sizes of `deletedJobs` (their events go
 * with their rows), drops the events another replica already stored, and returns the rest as
 * they may be stored under the quotas, with the totals after them (written back in the same
 * transaction).
 */
export async function admitEvents(tx: TransactionSql, candidates: readonly QuotaEvent[], deletedJobs: readonly string[], quota: EventQuota): Promise<{ admitted: QuotaEvent[]; sizes: EventSizes; duplicates: QuotaEvent[] }> {
  const [row] = await tx<Array<{ bytes: string }>>`
    INSERT INTO job_event_totals (id, bytes) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET bytes = job_event_totals.bytes RETURNING bytes`;
  let total = Number(row?.bytes ?? 0);
  const { fresh: events, duplicates } = await dropStored(tx, candidates);
  if (deletedJobs.length > 0) {
    const gone = await tx<Array<{ bytes: string }>>`DELETE FROM job_event_sizes WHERE job_id = ANY(${tx.array(deletedJobs as string[])}) RETURNING bytes`;
    for (const size of gone) total -= Number(size.bytes);
  }
  const jobs = new Map<string, { bytes: number; truncated: boolean }>();
  const ids = [...new Set(events.map((e) => e.jobId))];
  if (ids.length > 0) {
    const rows = await tx<Array<{ job_id: string; bytes: string; truncated: boolean }>>`SELECT job_id, bytes, truncated FROM job_event_sizes WHERE job_id = ANY(${tx.array(ids)})`;
    for (const size of rows) jobs.set(size.job_id, { bytes: Number(size.bytes), truncated: size.truncated });
  }
  const admitted: QuotaEvent[] = [];
  for (const stored of events) {
    let size = jobs.get(stored.jobId);
    if (size === undefined) jobs.set(stored.jobId, (size = { bytes: 0, truncated: false }));
    const base = { seq: stored.event.seq, attempt: stored.event.attempt, attemptSeq: stored.event.attemptSeq };
    let event = stored.event;
    if (size.truncated) {
      // One marker per job, whichever replica stored it: later events keep only their place.
      if (event.type !== "log" || event.lines.length > 0 || event.truncated === true) event = { ...base, type: "log", lines: [] };
    } else if (event.truncated === true) {
      size.truncated = true;
    } else if (size.bytes + stored.bytes > quota.jobMaxBytes || total + stored.bytes > quota.maxBytes) {
      event = { ...base, type: "log", lines: [truncationLine(quota.now(), quota.jobMaxBytes, quota.maxBytes)], truncated: true };
      size.truncated = true;
    }
    const bytes = event === stored.event ? stored.bytes : storedEventBytes(stored.jobId, event);
    size.bytes += bytes;
    total += bytes;
    admitted.push({ jobId: stored.jobId, event, bytes });
  }
  if (jobs.size > 0) {
    const rows = [...jobs].map(([job_id, size]) => ({ job_id, bytes: size.bytes, truncated: size.truncated }));
    await tx.unsafe(
      `INSERT INTO job_event_sizes (job_id, bytes, truncated)
       SELECT job_id, bytes, truncated FROM jsonb_to_recordset($1::jsonb) AS v(job_id text, bytes bigint, truncated boolean)
       ON CONFLICT (job_id) DO UPDATE SET bytes = EXCLUDED.bytes, truncated = EXCLUDED.truncated`,
      [tx.json(rows as never) as never],
    );
  }
  await tx`UPDATE job_event_totals SET bytes = ${total} WHERE id = 1`;
  return { admitted, sizes: { total, jobs }, duplicates };
}

/**
 * The same event delivered through two replicas (a runner's resend after it moved, while the
 * first replica's copy was still on its way) is stored by both with the same seq when both
 * replicas' counts are behind. Under the totals lock every earlier batch's events are committed
 * and visible (READ COMMITTED reads a new snapshot per statement), so the second copy is found
 * here and dropped, before it is counted. Until 2026-12-02 it hit the PRIMARY KEY (job_id, seq):
 * the whole batch failed, and with it the replica's store and every session on it.
 */
async function dropStored(tx: TransactionSql, events: readonly QuotaEvent[]): Promise<{ fresh: QuotaEvent[]; duplicates: QuotaEvent[] }> {
  if (events.length === 0) return { fresh: [], duplicates: [] };
  const stored = await tx<Array<{ job_id: string; seq: number }>>`
    SELECT e.job_id, e.seq FROM job_events e
    JOIN unnest(${tx.array(events.map((e) => e.jobId))}::text[], ${tx.array(events.map((e) => e.event.seq))}::int[]) AS v(job_id, seq)
      ON e.job_id = v.job_id AND e.seq = v.seq`;
  if (stored.length === 0) return { fresh: [...events], duplicates: [] };
  const taken = new Set(stored.map((e) => `${e.seq}#${e.job_id}`));
  const fresh: QuotaEvent[] = [];
  const duplicates: QuotaEvent[] = [];
  for (const e of events) (taken.has(`${e.event.seq}#${e.jobId}`) ? duplicates : fresh).push(e);
  return { fresh, duplicates };
}
