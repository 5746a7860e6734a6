// Job events (logs and steps) in PostgreSQL, with the embedded journal's quotas and seq rules
// (job-logs.ts): each accepted event joins the store's next batch, an in-memory index per job
// serves the dedupe cursor, and reads come from the database once the events are committed.
// The quotas are decided in each batch's transaction against the database's totals
// (pg-event-quota.ts): other replicas store events too, so no replica's own count could hold
// them. The index learns the outcome (bytes, truncated) when the batch commits.

import type { Logger } from "../../log/logger.ts";
import type { LogLine } from "../../protocol/edge-v1.ts";
import { DEFAULT_EVENT_JOURNAL_MAX_BYTES, DEFAULT_JOB_LOG_MAX_BYTES, truncationLine, type EventAdmission, type EventCursor, type JobEvent } from "../job-logs.ts";
import { logPageLength } from "../log-page.ts";
import type { EventStore } from "../store-seam.ts";
import { storedEventBytes, type EventSizes } from "./pg-event-quota.ts";
import type { PgStore } from "./pg-store.ts";

interface EventIndex {
  count: number;
  attempt: number;
  highestSeq: number;
  bytes: number;
  truncated: boolean;
}

/** A job's events as the database holds them (pg-job-logs.ts #indexRows). */
interface IndexRow {
  job_id: string;
  count: number;
  bytes: string;
  truncated: boolean;
  attempt: number;
  attempt_seq: number;
}

function indexOf(row: IndexRow): EventIndex {
  return { count: row.count, attempt: row.attempt, highestSeq: row.attempt_seq, bytes: Number(row.bytes), truncated: row.truncated };
}

export interface PgJobLogsOptions {
  store: PgStore;
  logger: Logger;
  jobMaxBytes?: number;
  maxBytes?: number;
  /** The truncation marker's timestamp (default Date.now). */
  now?: () => number;
}

export class PgJobLogs implements EventStore {
  readonly #store: PgStore;
  readonly #logger: Logger;
  readonly #jobMaxBytes: number;
  readonly #maxBytes: number;
  #index = new Map<string, EventIndex>();
  #totalBytes = 0;

  constructor(options: PgJobLogsOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#jobMaxBytes = options.jobMaxBytes ?? DEFAULT_JOB_LOG_MAX_BYTES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_EVENT_JOURNAL_MAX_BYTES;
    this.#store.eventQuota = { jobMaxBytes: this.#jobMaxBytes, maxBytes: this.#maxBytes, now: options.now ?? (() => Date.now()) };
    this.#store.onEventSizes = (sizes) => this.#applySizes(sizes);
    this.#store.onEventsStoredElsewhere = async (jobIds) => this.#merge(await this.#indexRows(jobIds));
  }

  /** What a batch's transaction stored, by the database's count (every replica's events). */
  #applySizes(sizes: EventSizes): void {
    this.#totalBytes = sizes.total;
    for (const [jobId, size] of sizes.jobs) {
      const index = this.#index.get(jobId);
      if (index === undefined) continue;
      index.bytes = size.bytes;
      if (size.truncated) index.truncated = true;
    }
  }

  get totalBytes(): number { return this.#totalBytes; }
  get jobCount(): number { return this.#index.size; }

  /** Rebuilds the index from the database (at open, and after a reconnect). */
  async load(): Promise<void> {
    const [rows, all] = await Promise.all([
      this.#indexRows(undefined),
      this.#store.sql<Array<{ bytes: string }>>`SELECT bytes FROM job_event_totals WHERE id = 1`,
    ]);
    this.#index = new Map();
    for (const row of rows) this.#index.set(row.job_id, indexOf(row));
    this.#totalBytes = Number(all[0]?.bytes ?? 0);
    this.#logger.debug("Loaded the job event index from PostgreSQL", { jobs: this.#index.size, bytes: this.#totalBytes });
  }

  /**
   * Takes the database's counts for these jobs where it holds more events than this replica knows
   * (another replica stored them: the runner may move here and go on from its seq).
   */
  async reloadIndex(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.#merge(await this.#indexRows(jobIds));
  }

  /**
   * reloadIndex() of every job: after notifications may have been missed (the listening
   * connection was re-made). Until 2026-12-02 a resync reloaded job rows only, and a runner that
   * moved here after missed event NOTIFYs had its next events refused as a gap, and its result
   * answered events_missing, forever. Unlike load() it keeps what this replica appended and has
   * not committed yet (a count is only ever raised).
   */
  async reloadAllIndex(): Promise<void> {
    await this.#merge(await this.#indexRows(undefined));
  }

  /**
   * These jobs' index read from the database, before this replica answers its runner
   * events_missing (its NOTIFY may be on its way, or was missed): a backstop for resync.
   */
  readThrough(jobIds: readonly string[]): Promise<void> {
    return this.#store.trackRead(this.#indexRows(jobIds).then((rows) => this.#merge(rows)));
  }

  async #merge(rows: readonly IndexRow[]): Promise<void> {
    for (const row of rows) {
      const known = this.#index.get(row.job_id);
      // Another replica truncated the job: later events here are stored without their lines.
      if (known !== undefined && row.truncated) known.truncated = true;
      if (known !== undefined && known.count >= row.count) continue;
      this.#index.set(row.job_id, indexOf(row));
    }
    const [all] = await this.#store.sql<Array<{ bytes: string }>>`SELECT bytes FROM job_event_totals WHERE id = 1`;
    if (all !== undefined) this.#totalBytes = Number(all.bytes);
  }

  /**
   * Each job's count and last event in ONE statement, so from one snapshot: read by two queries,
   * an event committed between them gave a count that includes it beside a last seq that does not
   * (0), and as the count was then known, no later reload corrected the seq: the runner's next
   * event was a gap forever and its result was answered `events_missing` forever.
   */
  #indexRows(jobIds: readonly string[] | undefined): Promise<IndexRow[]> {
    const sql = this.#store.sql;
    if (jobIds === undefined) {
      return sql<IndexRow[]>`
        SELECT t.job_id, t.count, t.bytes, t.truncated, l.attempt, l.attempt_seq
        FROM (SELECT job_id, count(*)::int AS count, sum(bytes)::bigint AS bytes, bool_or(truncated) AS truncated FROM job_events GROUP BY job_id) AS t
        JOIN (SELECT DISTINCT ON (job_id) job_id, attempt, attempt_seq FROM job_events ORDER BY job_id, seq DESC) AS l USING (job_id)`;
    }
    const ids = sql.array(jobIds as string[]);
    return sql<IndexRow[]>`
      SELECT t.job_id, t.count, t.bytes, t.truncated, l.attempt, l.attempt_seq
      FROM (SELECT job_id, count(*)::int AS count, sum(bytes)::bigint AS bytes, bool_or(truncated) AS truncated FROM job_events WHERE job_id = ANY(${ids}) GROUP BY job_id) AS t
      JOIN (SELECT DISTINCT ON (job_id) job_id, attempt, attempt_seq FROM job_events WHERE job_id = ANY(${ids}) ORDER BY job_id, seq DESC) AS l USING (job_id)`;
  }

  /**
   * Only a job known to be truncated drops here: whether an event fits the quotas is decided in
   * its batch's transaction, on the database's totals (this replica's count may be behind).
   */
  admit(jobId: string, _bytes: number): EventAdmission {
    return this.#index.get(jobId)?.truncated === true ? "drop" : "store";
  }

  truncationLine(ts: number): LogLine {
    return truncationLine(ts, this.#jobMaxBytes, this.#maxBytes);
  }

  append(jobId: string, events: readonly JobEvent[]): void {
    if (events.length === 0) return;
    this.#store.commits.check(`store events of job "${jobId}"`);
    for (const event of events) {
      let index = this.#index.get(jobId);
      const expected = (index?.count ?? 0) + 1;
      if (event.seq !== expected) throw new RangeError(`Cannot store event ${event.seq} of job "${jobId}": expected seq ${expected}`);
      if (index === undefined) this.#index.set(jobId, (index = { count: 0, attempt: 0, highestSeq: 0, bytes: 0, truncated: false }));
      const bytes = storedEventBytes(jobId, event);
      this.#store.appendEvent(jobId, event, bytes);
      index.count++;
      index.bytes += bytes;
      this.#totalBytes += bytes;
      if (event.truncated === true) index.truncated = true;
      if (event.attempt !== index.attempt) {
        index.attempt = event.attempt;
        index.highestSeq = 0;
      }
      if (event.attemptSeq === index.highestSeq + 1) index.highestSeq = event.attemptSeq;
    }
    this.#store.commits.appended();
  }

  /**
   * Events with `seq > after`, at most `limit` and at most MAX_LOG_PAGE_BYTES of them as stored
   * (logPageLength(), as the embedded store): the candidates' sizes are read first (`bytes`, no
   * body: a large body is TOASTed apart from its row), then the bodies of the page alone. Events
   * are never changed once stored, so the seq range read second holds what the first measured
   * (fewer only if the job was deleted in between).
   */
  async read(jobId: string, after: number, limit: number): Promise<JobEvent[]> {
    // What was accepted before this read is committed first (or the store failed: read what is there).
    await this.#store.durable().catch(() => {});
    const from = Math.max(0, after);
    const sizes = await this.#store.sql<Array<{ seq: number; bytes: number }>>`
      SELECT seq, bytes FROM job_events WHERE job_id = ${jobId} AND seq > ${from} ORDER BY seq LIMIT ${limit}`;
    const last = sizes[logPageLength(sizes.map((row) => row.bytes)) - 1];
    if (last === undefined) return [];
    const rows = await this.#store.sql<Array<{ body: JobEvent }>>`
      SELECT body FROM job_events WHERE job_id = ${jobId} AND seq > ${from} AND seq <= ${last.seq} ORDER BY seq`;
    return rows.map((row) => row.body);
  }

  cursor(jobId: string, attempt: number): EventCursor {
    const index = this.#index.get(jobId);
    if (index === undefined) return { count: 0, attempt, highestSeq: 0 };
    return { count: index.count, attempt, highestSeq: index.attempt === attempt ? index.highestSeq : 0 };
  }

  /** Forgets the index of pruned jobs; their rows go with the job rows (ON DELETE CASCADE). */
  drop(jobIds: Iterable<string>): void {
    for (const id of jobIds) {
      const index = this.#index.get(id);
      if (index === undefined) continue;
      this.#index.delete(id);
      this.#totalBytes -= index.bytes;
    }
  }

  retainOnly(keep: (jobId: string) => boolean): void {
    this.drop([...this.#index.keys()].filter((id) => !keep(id)));
  }
}
