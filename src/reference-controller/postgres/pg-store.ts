// The controller's state in PostgreSQL. Like the embedded store it keeps the whole view in memory
// (the core stays synchronous); each group-commit batch is written in ONE transaction
// (pg-batch.ts) and is durable when COMMIT returns. Loaded only when `storeUrl` is set.

import type { Sql } from "postgres";
import type { Logger } from "../../log/logger.ts";
import type { DurableSink, GroupCommit } from "../group-commit.ts";
import type { JobEvent } from "../job-logs.ts";
import type { JournalRecord, StoredJob, StoredRunner } from "../records.ts";
import type { SessionRow, StateStore } from "../store-seam.ts";
import type { CompactionHealth } from "../store.ts";
import { PendingBatch, writeBatch, type RunnerRow } from "./pg-batch.ts";
import { applyPatch } from "./runner-patch.ts";
import { DEFAULT_EVENT_QUOTA, type EventQuota, type EventSizes } from "./pg-event-quota.ts";

export interface PgStoreOptions {
  sql: Sql;
  logger: Logger;
  commits: GroupCommit;
  /** Names this process in NOTIFY payloads, so it skips its own. */
  replicaId: string;
  /** A batch's transaction that has not ended by then fails the store (default 30 s). */
  transactionTimeoutMs?: number;
}

/** Jobs another writer changed (a lost compare-and-swap, a NOTIFY): their rows as they are now. */
export type RemoteChange = { jobs: StoredJob[]; deleted: string[] };

export class PgStore implements StateStore, DurableSink {
  readonly kind = "postgres" as const;
  readonly commits: GroupCommit;
  readonly sql: Sql;
  readonly replicaId: string;
  readonly compaction: Readonly<CompactionHealth> = { failures: 0 };
  readonly #logger: Logger;
  readonly #transactionTimeoutMs: number;
  #jobs = new Map<string, StoredJob>();
  #runners = new Map<string, StoredRunner>();
  /** The row version of each runner as this replica last wrote or read it (kept after a deletion). */
  #runnerVersions = new Map<string, number>();
  /** The row version of each job as this replica last wrote or read it. */
  #versions = new Map<string, number>();
  #pending = new PendingBatch();
  #batch: PendingBatch | undefined;
  /** The batch being written (its runner changes are laid over rows read meanwhile). */
  #writing: PendingBatch | undefined;
  #maxQueueSeq = 0;
  #closed = false;
  /** Batches taken so far; the pending one is `#taken + 1`. */
  #taken = 0;
  /** Per recent batch number: the jobs whose write lost its compare-and-swap. */
  readonly #lost = new Map<number, Set<string>>();
  /** Per recent batch number: the runners whose registration or change did not land. */
  readonly #lostRunners = new Map<number, Set<string>>();
  /** Called with jobs whose write lost to another replica, reloaded from the database. */
  onRemoteChange: (change: RemoteChange) => void = () => {};
  /** Called with runners another replica deleted. */
  onRunnersGone: (ids: readonly string[]) => void = () => {};
  /** The event quotas each batch enforces (set by pg-job-logs.ts). */
  eventQuota: EventQuota = DEFAULT_EVENT_QUOTA;
  /** Called with the database's event totals after a batch that stored or deleted events. */
  onEventSizes: (sizes: EventSizes) => void = () => {};
  /** Called with jobs whose event this replica's batch found stored already (another replica's copy): their index is read again. */
  onEventsStoredElsewhere: (jobIds: readonly string[]) => Promise<void> = async () => {};

  constructor(options: PgStoreOptions) {
    this.sql = options.sql;
    this.commits = options.commits;
    this.replicaId = options.replicaId;
    this.#logger = options.logger;
    this.#transactionTimeoutMs = options.transactionTimeoutMs ?? 30_000;
    this.commits.trackSink(this);
  }

  get jobs(): ReadonlyMap<string, StoredJob> { return this.#jobs; }
  get runners(): ReadonlyMap<string, StoredRunner> { return this.#runners; }

  /** Replaces the in-memory view with the database's (at open, and after a reconnect). */
  async load(): Promise<void> {
    const [jobs, runners, seq] = await Promise.all([
      this.sql<Array<{ version: string; doc: StoredJob }>>`SELECT version, doc FROM jobs`,
      this.sql<Array<{ version: string; doc: StoredRunner }>>`SELECT version, doc FROM runners`,
      this.sql<Array<{ max: string | null }>>`SELECT max(queue_seq) AS max FROM jobs`,
    ]);
    this.#jobs = new Map(jobs.map((row) => [row.doc.id, row.doc]));
    this.#versions = new Map(jobs.map((row) => [row.doc.id, Number(row.version)]));
    this.#runners = new Map(runners.map((row) => [row.doc.id, row.doc]));
    this.#runnerVersions = new Map(runners.map((row) => [row.doc.id, Number(row.version)]));
    this.#maxQueueSeq = Math.max(this.#maxQueueSeq, Number(seq[0]?.max ?? 0));
    this.#pending = new PendingBatch();
    this.#logger.debug("Loaded the controller store from PostgreSQL", { jobs: this.#jobs.size, runners: this.#runners.size });
  }

  nextQueueSeq(): number {
    return ++this.#maxQueueSeq;
  }

  commit(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    this.#writable("change the controller's state");
    for (const record of records) {
      if (record.t === "job") {
        this.#jobs.set(record.job.id, record.job);
        if (record.job.queueSeq > this.#maxQueueSeq) this.#maxQueueSeq = record.job.queueSeq;
        this.#pending.putJob(record.job);
      } else if (record.t === "runner") {
        const previous = this.#runners.get(record.runner.id);
        this.#runners.set(record.runner.id, record.runner);
        this.#pending.putRunner(record.runner, previous);
      } else {
        this.#runners.delete(record.id);
        this.#pending.deleteRunner(record.id);
      }
    }
    this.commits.appended();
  }

  putJobs(jobs: readonly StoredJob[]): void {
    this.commit(jobs.map((job) => ({ t: "job", job })));
  }

  /** Retention: the rows go too (their events with them), in the next batch. */
  forgetJobs(ids: readonly string[]): void {
    if (ids.length === 0 || this.commits.failure !== undefined || this.#closed) {
      for (const id of ids) this.#jobs.delete(id);
      return;
    }
    for (const id of ids) {
      this.#jobs.delete(id);
      this.#pending.deleteJob(id);
    }
    this.commits.appended();
  }

  /** An edge session's row, in the next batch (pg-sessions.ts). */
  putSession(row: SessionRow): void {
    this.#writable("create a session");
    this.#pending.putSession(row);
    this.commits.appended();
  }

  /** Its row goes in the next batch; a failed or closed store leaves it to go stale. */
  removeSession(id: string): void {
    if (this.commits.failure !== undefined || this.#closed) return;
    this.#pending.deleteSession(id);
    this.commits.appended();
  }

  /** An event for the next batch (job-logs quotas and seqs are kept by pg-job-logs.ts). */
  appendEvent(jobId: string, event: JobEvent, bytes: number): void {
    this.#pending.events.push({ jobId, event, bytes });
  }

  durable(): Promise<void> {
    return this.commits.durable();
  }

  takePending(): boolean {
    if (this.#pending.empty) return false;
    this.#batch = this.#pending;
    this.#pending = new PendingBatch();
    this.#taken++;
    return true;
  }

  sync(whenDone: (error: Error | null) => void): void {
    const taken = this.#taken;
    const batch = this.#batch;
    this.#batch = undefined;
    if (batch === undefined) return whenDone(null);
    this.#writing = batch;
    // A transaction the driver never settles (its connection dropped mid-write) must not hold
    // every later batch: past the timeout the store fails and reloads its view once it reconnects.
    // A commit that still lands later was never acknowledged, and the reload reads it.
    let settled = false;
    const timeout = setTimeout(() => done(new Error(`the PostgreSQL transaction did not end within ${this.#transactionTimeoutMs} ms`)), this.#transactionTimeoutMs);
    const done = (error: Error | null) => {
      if (settled) return;
      settled = true;
      if (this.#writing === batch) this.#writing = undefined;
      clearTimeout(timeout);
      whenDone(error);
    };
    writeBatch(this.sql, this.replicaId, batch, (id) => this.#versions.get(id) ?? 0, this.eventQuota).then(
      async (outcome) => {
        // Timed out already: the store failed and reloads everything; this late outcome is not applied.
        if (settled) return;
        for (const [id, version] of outcome.versions) this.#versions.set(id, version);
        if (outcome.lost.length > 0) this.#lost.set(taken, new Set(outcome.lost));
        this.#lost.delete(taken - 16);
        for (const id of batch.deletedJobs) this.#versions.delete(id);
        if (outcome.eventSizes !== undefined) this.onEventSizes(outcome.eventSizes);
        this.#writing = undefined;
        for (const row of outcome.runners) this.#applyRunnerRow(row);
        if (outcome.lostRunners.length > 0) this.#lostRunners.set(taken, new Set(outcome.lostRunners));
        this.#lostRunners.delete(taken - 16);
        if (outcome.duplicateEvents !== undefined && outcome.duplicateEvents.length > 0) {
          // Our count was behind the database's: take its count before the next event is numbered.
          try {
            await this.onEventsStoredElsewhere(outcome.duplicateEvents);
          } catch (error) {
            return done(error instanceof Error ? error : new Error(String(error)));
          }
        }
        if (outcome.lostRunners.length > 0) {
          // Registered by another replica first (or deregistered meanwhile): take the row as it is.
          try {
            await this.#reloadRunners(outcome.lostRunners, true);
          } catch (error) {
            return done(error instanceof Error ? error : new Error(String(error)));
          }
        }
        if (outcome.lost.length > 0) {
          // Another replica changed these jobs first: take its version before anything acts on ours.
          this.#logger.info("Jobs changed by another replica; reloading them", { jobs: outcome.lost.length });
          try {
            await this.reloadJobs(outcome.lost, true);
          } catch (error) {
            return done(error instanceof Error ? error : new Error(String(error)));
          }
        }
        done(null);
      },
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /**
   * Reads these jobs from the database into memory (gone ones are dropped) and tells the core.
   * A row no newer than what this replica holds is skipped (its own change may still be in a
   * batch); `force` takes the row anyway (a compare-and-swap this replica lost).
   */
  reloadJobs(ids: readonly string[], force = false): Promise<void> {
    return this.#reloadJobs(ids, force);
  }

  /** reloadJobs() for a read this replica asks for itself (not a NOTIFY's): readThrough(). */
  async #reloadJobs(ids: readonly string[], force: boolean): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.sql<Array<{ version: string; doc: StoredJob }>>`SELECT version, doc FROM jobs WHERE id = ANY(${this.sql.array(ids as string[])})`;
    const found = new Set(rows.map((row) => row.doc.id));
    const jobs: StoredJob[] = [];
    for (const row of rows) {
      const version = Number(row.version);
      if (!force && (this.#versions.get(row.doc.id) ?? 0) >= version) continue;
      // Our own write of it waiting for the next batch was made on the view this row replaces:
      // it must lose its compare-and-swap (and withhold its acknowledgements), not overwrite it.
      if (this.#pending.jobs.has(row.doc.id)) this.#pending.doomed.add(row.doc.id);
      this.#jobs.set(row.doc.id, row.doc);
      this.#versions.set(row.doc.id, version);
      if (row.doc.queueSeq > this.#maxQueueSeq) this.#maxQueueSeq = row.doc.queueSeq;
      jobs.push(row.doc);
    }
    // Gone from the database (pruned by another replica); a job of ours not written yet stays.
    const deleted = ids.filter((id) => !found.has(id) && this.#versions.has(id));
    for (const id of deleted) {
      this.#jobs.delete(id);
      this.#versions.delete(id);
    }
    if (jobs.length > 0 || deleted.length > 0) this.onRemoteChange({ jobs, deleted });
  }

  /**
   * Runners another replica registered, changed or deleted. A row no newer than the one held is
   * skipped (a read that overtook this replica's own write of it); `force` takes it anyway (a
   * registration that lost). This replica's changes not written yet are laid over the row.
   */
  reloadRunners(ids: readonly string[], force = false): Promise<void> {
    return this.#reloadRunners(ids, force);
  }

  /** reloadRunners() for a read this replica asks for itself (a registration that lost), not a NOTIFY's. */
  async #reloadRunners(ids: readonly string[], force: boolean): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.sql<Array<{ version: string; doc: StoredRunner }>>`SELECT version, doc FROM runners WHERE id = ANY(${this.sql.array(ids as string[])})`;
    const found = new Set(rows.map((row) => row.doc.id));
    for (const row of rows) this.#applyRunnerRow({ version: Number(row.version), doc: row.doc }, force);
    // Gone unless registered here and not written yet; a pending change of it will not bring it back.
    const gone = ids.filter((id) => !found.has(id) && !this.#pending.newRunners.has(id) && this.#runners.has(id));
    for (const id of gone) {
      this.#pending.runnerPatches.delete(id);
      // Its version stays known: the sequence never repeats one, and a late read of the old row must not bring it back.
      this.#runners.delete(id);
    }
    if (gone.length > 0) this.onRunnersGone(gone);
  }

  /** A runner row read or written: held unless older than the one held. */
  #applyRunnerRow(row: RunnerRow, force = false): void {
    const id = row.doc.id;
    if (!force && (this.#runnerVersions.get(id) ?? 0) >= row.version) return;
    this.#runnerVersions.set(id, row.version);
    // A registration of ours waiting for the next batch will lose to this row: the row stands.
    this.#runners.set(id, applyPatch(applyPatch(row.doc, this.#writing?.runnerPatches.get(id)), this.#pending.runnerPatches.get(id)));
  }

  /** After notifications may have been missed (the listening connection was re-made): every job whose version differs is reloaded. */
  async resync(): Promise<void> {
    const rows = await this.sql<Array<{ id: string; version: string }>>`SELECT id, version FROM jobs`;
    const stale = rows.filter((row) => (this.#versions.get(row.id) ?? 0) < Number(row.version)).map((row) => row.id);
    const present = new Set(rows.map((row) => row.id));
    const gone = [...this.#versions.keys()].filter((id) => !present.has(id));
    await this.reloadJobs([...stale, ...gone]);
    const runners = await this.sql<Array<{ id: string }>>`SELECT id FROM runners`;
    await this.reloadRunners([...new Set([...runners.map((r) => r.id), ...this.#runners.keys()])]);
  }

  /** These jobs' rows, each taken when newer than the one held (a NOTIFY of it may not have arrived yet). */
  readThrough(jobIds: readonly string[]): Promise<void> {
    return this.trackRead(this.#reloadJobs(jobIds, false));
  }

  /** Counts `read` until it ends, for readsSettled() (pg-job-logs.ts tracks its reads here too). */
  trackRead(read: Promise<void>): Promise<void> {
    this.#reads.add(read);
    const forget = () => void this.#reads.delete(read);
    read.then(forget, forget);
    return read;
  }

  /** readThrough() calls running now. */
  readonly #reads = new Set<Promise<void>>();

  /** Resolves once the readThrough() calls running now have ended (tests settle on it; a failed read counts as ended). */
  async readsSettled(): Promise<void> {
    await Promise.allSettled([...this.#reads]);
  }

  writeLanded(jobId: string): () => boolean {
    const batch = this.#taken + 1;
    return () => this.#lost.get(batch)?.has(jobId) !== true;
  }

  /** For an answer to a registration or key rotation made next (in the pending batch): whether it landed. */
  runnerWriteLanded(runnerId: string): () => boolean {
    const batch = this.#taken + 1;
    return () => this.#lostRunners.get(batch)?.has(runnerId) !== true;
  }

  /** The version this replica holds of a job (tests, and the offer check at send time). */
  versionOf(id: string): number | undefined {
    return this.#versions.get(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.commits.durable();
    } catch {
      // A failed store acknowledged nothing more; closing goes on.
    }
    this.commits.close();
    await this.sql.end({ timeout: 5 });
  }

  #writable(action: string): void {
    this.commits.check(action);
    if (this.#closed) throw new Error("Cannot write to the controller store: it is closed");
  }
}
