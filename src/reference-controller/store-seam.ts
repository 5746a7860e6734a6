// The seam between the controller and where its state lives: the embedded journal (store.ts,
// job-logs.ts; the default) or PostgreSQL (postgres/, loaded only when `storeUrl` is set). Both
// keep the whole view in memory so the core stays synchronous: a change is applied at once and
// appended to the group commit, and whatever acknowledges it waits until the batch is durable
// (fsync returned, or COMMIT returned).

import type { LogLine } from "../protocol/edge-v1.ts";
import type { GroupCommit } from "./group-commit.ts";
import type { EventAdmission, EventCursor, JobEvent } from "./job-logs.ts";
import type { JournalRecord, StoredJob, StoredRunner } from "./records.ts";
import type { CompactionHealth } from "./store.ts";
import type { Sql } from "postgres";

export interface StateStore {
  /** `embedded` or `postgres` (health shows it). */
  readonly kind: "embedded" | "postgres";
  readonly commits: GroupCommit;
  readonly jobs: ReadonlyMap<string, StoredJob>;
  readonly runners: ReadonlyMap<string, StoredRunner>;
  readonly compaction: Readonly<CompactionHealth>;
  /** The next FIFO position for a new job. */
  nextQueueSeq(): number;
  /** Applies the records in memory at once; durable at the end of this turn's batch. */
  commit(records: readonly JournalRecord[]): void;
  putJobs(jobs: readonly StoredJob[]): void;
  /** Retention: the jobs leave memory (and the database). */
  forgetJobs(ids: readonly string[]): void;
  /** Resolves once every change made so far is durable; rejects if the store failed. */
  durable(): Promise<void>;
  close(): void | Promise<void>;
  /**
   * For an acknowledgement of a write of this job made in the current batch: once the batch is
   * durable, whether that write landed (false: it lost its compare-and-swap to another replica).
   * None for the embedded store, where every durable write landed.
   */
  writeLanded?(jobId: string): () => boolean;
  /**
   * Reads these jobs (one query) from the shared database, each taken when newer than the one
   * held (another replica created or changed it and its NOTIFY has not arrived yet): before
   * answering "no such job", and before refusing a runner's message about it. None for the
   * embedded store: its memory is the whole truth.
   */
  readThrough?(jobIds: readonly string[]): Promise<void>;
  /**
   * Asked just before a runner registration or key rotation is made: once its batch is
   * batch is durable, whether it landed (false: another replica registered that id first, or
   * deregistered the runner). None for the embedded store.
   */
  runnerWriteLanded?(runnerId: string): () => boolean;
}

export interface EventStore {
  readonly totalBytes: number;
  readonly jobCount: number;
  admit(jobId: string, bytes: number): EventAdmission;
  truncationLine(ts: number): LogLine;
  append(jobId: string, events: readonly JobEvent[]): void;
  /**
   * Events with `seq > after`, at most `limit` (the database store reads them after its commit);
   * a page also ends before MAX_LOG_PAGE_BYTES (log-page.ts, both stores), so it may hold fewer.
   */
  read(jobId: string, after: number, limit: number): JobEvent[] | Promise<JobEvent[]>;
  cursor(jobId: string, attempt: number): EventCursor;
  drop(jobIds: Iterable<string>): void;
  /**
   * Reads these jobs' event counts from the shared database (events another replica stored, whose
   * NOTIFY has not arrived or was missed), before a result is answered events_missing. None for
   * the embedded store.
   */
  readThrough?(jobIds: readonly string[]): Promise<void>;
  retainOnly(keep: (jobId: string) => boolean): void;
}

/** A store opened for the controller: its state, its events, and their shared group commit. */
export interface StoreBackend {
  store: StateStore;
  logs: EventStore;
  commits: GroupCommit;
  /**
   * After a failure, the database store reconnects with backoff, reloads its view (memory may be
   * ahead of what committed) and calls `onRecovered`; returns a stop function. The embedded store
   * has none: it probes its disk and the process restarts to replay the journal.
   */
  startRecovery?(onRecovered: () => void): () => void;
  /** Stops background work (pings, listeners) before `store.close()`. */
  stop?(): void | Promise<void>;
  /**
   * Replicas sharing the database: `apply` gets the jobs another replica changed, already in the
   * store's view (none for the embedded store, which has no other writer).
   */
  watchRemote?(apply: RemoteHandlers): void;
  /** Sessions in the database (PostgreSQL only): where each live session is, for the other replicas. */
  sessionRows?: SessionRows;
  /** The database store's connection pool: secrets, bundles and artifacts use it too (shared-stores.ts). */
  sql?: Sql;
}

/** What the controller does with another replica's changes, once they are in the store's view. */
export interface RemoteHandlers {
  jobs(changed: readonly StoredJob[], deleted: readonly string[]): void;
  /** Runners deregistered through another replica: their sessions here end. */
  runnersGone(ids: readonly string[]): void;
}

/** One edge session as the database knows it (table `edge_sessions`). */
export interface SessionRow {
  id: string;
  runnerId: string;
  group: string;
  /** The replica holding the session in memory, and the URL the other replicas reach it at. */
  replicaId: string;
  advertiseUrl: string;
  /** sha256 hex of the long-poll token; the token itself is never stored. */
  tokenHash: string;
  createdAt: number;
  lastSeenAt: number;
}

/** Sessions shared through the database. Writes go through the store's group-commit batch. */
export interface SessionRows {
  /** This process's id in the rows it writes. */
  readonly replicaId: string;
  /** In the next batch: durable (before the creation is answered) with `store.durable()`. */
  put(row: SessionRow): void;
  /** In the next batch; nothing when the store failed or closed (the row goes stale instead). */
  remove(id: string): void;
  /** The row of `id` if its `lastSeenAt` is at least `freshSince`. */
  find(id: string, freshSince: number): Promise<SessionRow | undefined>;
  /** Rows with `lastSeenAt >= freshSince`, any replica. */
  live(freshSince: number): Promise<SessionRow[]>;
  /** Marks this replica's rows seen at `now` and deletes every row older than `staleBefore`. */
  heartbeat(now: number, staleBefore: number): Promise<void>;
}
