// The controller's durable state: jobs and runners in memory, every change appended to a journal
// that the group commit fsyncs in batches, replayed on start, and folded into a snapshot (without
// pruned jobs) when the journal grows.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import { AppendFile } from "./append-file.ts";
import { GroupCommit, SYNCHRONOUS } from "./group-commit.ts";
import { readJsonl, syncDirectory, writeFileAtomic } from "./jsonl-file.ts";
import { journalRecordProblem } from "./journal-record-check.ts";
import type { JournalRecord, Snapshot, StoredJob, StoredRunner } from "./records.ts";
import type { StateStore } from "./store-seam.ts";
import { checkJsonBounds, STORED_JSON_BOUNDS, type JsonBounds } from "../util/json-bounds.ts";
import { FileTooLargeError, readTextFileBoundedSync } from "../util/read-file-bounded.ts";
import { EdgeError } from "../errors.ts";
import { MAX_JOURNAL_LINE_BYTES, MAX_SNAPSHOT_BYTES } from "./store-file-bounds.ts";

export interface ControllerStoreOptions {
  /** `<dataDir>/controller`; created when missing. */
  dir: string;
  logger: Logger;
  /**
   * Shared with the event journal, so one batch covers both files. Default: a group commit of
   * its own that writes and fsyncs each change at once (a store used on its own).
   */
  commits?: GroupCommit;
  /** Journal lines after which the next durable batch is followed by a snapshot (at least as many as jobs kept). */
  compactAfter?: number;
  /** Wall clock for the compaction retry backoff (default `Date.now`). */
  now?: () => number;
  /**
   * The largest snapshot written and read (default MAX_SNAPSHOT_BYTES, the most this runtime
   * can): one compaction would write past it fails instead (the journal stays whole), so the
   * store never writes a snapshot its next start refuses. Tests pass a small one.
   */
  snapshotMaxBytes?: number;
}

/** Compaction as health shows it: a failure is logged, retried with backoff, and counted here. */
export interface CompactionHealth {
  /** Failures since the last compaction that worked. */
  failures: number;
  lastError?: string;
  /** Epoch ms before which it is not tried again. */
  retryAt?: number;
}

const MAX_COMPACTION_BACKOFF_MS = 60_000;

/**
 * What a replayed input or output is checked against: its depth (one nested 40,000 levels made
 * every compaction throw). Its size is bounded by the journal line it came in; STORED_JSON_BOUNDS'
 * 1 MiB would drop values the controller stores larger: an input with its secret inputs encrypted
 * in (up to 32 MiB), an output with its sensitive entries sealed (base64, 4/3 and more). Until
 * 2026-12-02 such a value was dropped on every restart.
 */
const REPLAY_BOUNDS: JsonBounds = { maxDepth: STORED_JSON_BOUNDS.maxDepth, maxBytes: MAX_JOURNAL_LINE_BYTES };

const JOURNAL = "journal.jsonl";
const SNAPSHOT = "snapshot.json";

export class ControllerStore implements StateStore {
  readonly kind = "embedded" as const;
  readonly dir: string;
  readonly commits: GroupCommit;
  readonly #logger: Logger;
  readonly #compactAfter: number;
  readonly #snapshotMaxBytes: number;
  readonly #jobs = new Map<string, StoredJob>();
  readonly #runners = new Map<string, StoredRunner>();
  /**
   * Records committed since the last write, the last one per job and per runner: serialized when
   * the group commit writes its batch, so a job that changes twice in one batch (a runner's accept
   * and result in one frame, a submit leased at once) costs one line and one stringify.
   */
  readonly #unwrittenJobs = new Map<string, JournalRecord>();
  readonly #unwrittenRunners = new Map<string, JournalRecord>();
  #journal: AppendFile | undefined;
  #journalLines = 0;
  #maxQueueSeq = 0;
  #compacting = false;
  readonly #now: () => number;
  #compaction: CompactionHealth = { failures: 0 };

  private constructor(options: ControllerStoreOptions) {
    this.dir = options.dir;
    this.commits = options.commits ?? new GroupCommit({ logger: options.logger, ...SYNCHRONOUS });
    this.#logger = options.logger;
    this.#compactAfter = options.compactAfter ?? 10_000;
    this.#snapshotMaxBytes = options.snapshotMaxBytes ?? MAX_SNAPSHOT_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens the store and replays snapshot + journal. A torn last journal line is skipped, a
   * corrupt one (or one over MAX_JOURNAL_LINE_BYTES) skipped and logged; a snapshot over
   * `snapshotMaxBytes` is refused unread: `config_invalid` naming it, its size and the cap.
   */
  static open(options: ControllerStoreOptions): ControllerStore {
    const store = new ControllerStore(options);
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const uncut = store.#load();
    store.#journal = new AppendFile(path.join(options.dir, JOURNAL), store.commits.preallocateBytes);
    if (uncut !== undefined) store.commits.failUncut(store.#journal, uncut);
    // The file itself, not #journal: close() during a batch's fsync drops #journal at once, and
    // the last batch is written after that fsync answers (GroupCommit.close()), into this file.
    const journal = store.#journal;
    journal.beforeWrite(() => store.#serialize(journal));
    store.commits.track(store.#journal);
    store.commits.afterFlush(() => store.#compactInBackground());
    return store;
  }

  get jobs(): ReadonlyMap<string, StoredJob> { return this.#jobs; }
  get runners(): ReadonlyMap<string, StoredRunner> { return this.#runners; }
  get journalLines(): number { return this.#journalLines; }
  get compaction(): Readonly<CompactionHealth> { return this.#compaction; }

  /** The next FIFO position for a new job. */
  nextQueueSeq(): number {
    return ++this.#maxQueueSeq;
  }

  /**
   * Applies the records in memory at once and adds them to the journal's next batch; they are
   * durable at the end of that batch. Whatever acknowledges them must wait for it:
   * `commits.afterDurable()` or `durable()`. Throws, changing nothing, once the store failed.
   * Records are full upserts and nothing is acknowledged before its batch is durable, so only
   * the last record of a job (or runner) in a batch is written: replay ends in the same state.
   * A record is serialized when its batch is written and must not be changed after this call.
   */
  commit(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    this.commits.check("change the controller's state");
    const journal = this.#journal;
    if (journal === undefined || journal.closed) throw new Error("Cannot write to the controller store: it is closed");
    for (const record of records) {
      this.#apply(record);
      if (record.t === "job") this.#unwrittenJobs.set(record.job.id, record);
      else this.#unwrittenRunners.set(record.t === "runner" ? record.runner.id : record.id, record);
    }
    this.commits.appended();
  }

  /**
   * The journal's batch is being written: serializes the records committed since the last one.
   * Every value in them was bounded before it was committed (inputs, outputs, texts), so this
   * does not throw; if it did, the batch fails like a failed write (nothing acknowledged).
   */
  #serialize(journal: AppendFile): void {
    const count = this.#unwrittenJobs.size + this.#unwrittenRunners.size;
    if (count === 0) return;
    let text = "";
    for (const record of this.#unwrittenRunners.values()) text += JSON.stringify(record) + "\n";
    for (const record of this.#unwrittenJobs.values()) text += JSON.stringify(record) + "\n";
    this.#unwrittenJobs.clear();
    this.#unwrittenRunners.clear();
    journal.append(text);
    this.#journalLines += count;
  }

  putJobs(jobs: readonly StoredJob[]): void {
    this.commit(jobs.map((job) => ({ t: "job", job })));
  }

  /** Drops jobs from memory (retention); the next snapshot leaves them out, a replay prunes again. */
  forgetJobs(ids: readonly string[]): void {
    for (const id of ids) this.#jobs.delete(id);
  }

  /** Resolves once every change made so far is durable; rejects if the store failed. */
  durable(): Promise<void> {
    return this.commits.durable();
  }

  /** Folds everything into a new snapshot and starts an empty journal. Not during a batch's thread-pool fsync (it throws). */
  compact(): void {
    if (this.#journal === undefined || this.#journal.closed) return;
    this.#compacting = true;
    try {
      // The journal must hold every applied change before it is replaced by their fold.
      this.commits.flushSync();
      const snapshot: Snapshot = { v: 1, jobs: [...this.#jobs.values()], runners: [...this.#runners.values()] };
      const text = JSON.stringify(snapshot);
      const bytes = Buffer.byteLength(text);
      if (bytes > this.#snapshotMaxBytes) throw new Error(`Cannot write a snapshot of ${bytes} bytes: over the cap of ${this.#snapshotMaxBytes} bytes for reading it back at start; the journal stays whole`);
      writeFileAtomic(path.join(this.dir, SNAPSHOT), text);
      // A crash between the rename and the truncate replays records the snapshot already holds:
      // harmless, because every record is a full upsert (and pruning runs again on load).
      this.#journal.truncate();
      syncDirectory(this.dir);
      this.#journalLines = 0;
      this.#logger.debug("Compacted the controller journal", { jobs: snapshot.jobs.length, runners: snapshot.runners.length });
    } finally {
      this.#compacting = false;
    }
  }

  /**
   * Compacts when the journal is due, after a durable batch. A background step: it never throws
   * into the batch that triggered it (that would end the process); a failure is logged, counted
   * for health, and retried with backoff. The journal stays whole and replayable meanwhile.
   */
  #compactInBackground(): void {
    // A snapshot writes every job kept (finished ones for the retention period): compacting only
    // once the journal holds at least as many lines keeps its cost per change constant, where a
    // fixed count made a store of 100,000 jobs rewrite them all every 10,000 changes (issue 15).
    if (this.#journalLines < Math.max(this.#compactAfter, this.#jobs.size) || this.#compacting || this.commits.failure !== undefined) return;
    // It runs after a durable batch, when none is in flight; should a callback of that batch have
    // started the next one (a synchronous schedule), the next durable batch compacts instead:
    // compact()'s flushSync() must not run during a batch's fsync (group-commit.ts says why).
    if (this.commits.batchInFlight) return;
    if (this.#compaction.retryAt !== undefined && this.#now() < this.#compaction.retryAt) return;
    try {
      this.compact();
      if (this.#compaction.failures > 0) this.#logger.info("Compacted the controller journal again after failures", { failures: this.#compaction.failures });
      this.#compaction = { failures: 0 };
    } catch (error) {
      const failures = this.#compaction.failures + 1;
      const retryAt = this.#now() + Math.min(MAX_COMPACTION_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 16));
      const lastError = error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : String(error).slice(0, 300);
      this.#compaction = { failures, lastError, retryAt };
      this.#logger.error("Cannot compact the controller journal; the journal stays whole, retrying later", { error: lastError, failures, retryAt });
    }
  }

  /** Closes the files at once, or after a batch's running fsync: the promise says when. */
  close(): Promise<void> {
    this.commits.close();
    this.#journal = undefined;
    return this.commits.closed();
  }

  /** Replays snapshot and journal; returns why the journal could not be cut after its data, if so. */
  #load(): Error | undefined {
    const snapshotFile = path.join(this.dir, SNAPSHOT);
    if (fs.existsSync(snapshotFile)) {
      // The snapshot is written by rename, so it is whole or absent; a bad one is a real fault.
      const snapshot = JSON.parse(readSnapshot(snapshotFile, this.#snapshotMaxBytes)) as Snapshot;
      for (const runner of snapshot.runners) this.#runners.set(runner.id, runner);
      for (const job of snapshot.jobs) this.#putJob(this.#bounded(job));
    }
    const { values, uncut } = readJsonl(path.join(this.dir, JOURNAL), this.#logger, MAX_JOURNAL_LINE_BYTES, true);
    for (const value of values) {
      const problem = journalRecordProblem(value);
      const record = value as JournalRecord;
      if (problem === undefined) this.#apply(record.t === "job" ? { t: "job", job: this.#bounded(record.job) } : record);
      else this.#logger.error("Skipping an invalid journal record", { file: JOURNAL, problem });
    }
    this.#journalLines = values.length;
    this.#logger.debug("Loaded the controller store", { jobs: this.#jobs.size, runners: this.#runners.size, journalLines: values.length });
    return uncut;
  }

  /**
   * A job written by an earlier version may hold an input or output past today's bounds (one
   * nested 40,000 levels deep made every compaction throw): replayed without that value, logged.
   */
  #bounded(job: StoredJob): StoredJob {
    const fix: Partial<StoredJob> = {};
    if (checkJsonBounds(job.input, REPLAY_BOUNDS) !== undefined) fix.input = null;
    if (job.output !== undefined && checkJsonBounds(job.output, REPLAY_BOUNDS) !== undefined) fix.output = null;
    if (Object.keys(fix).length === 0) return job;
    this.#logger.error("Replaying a job whose stored input or output is past the bounds: that value is dropped", { jobId: job.id, fields: Object.keys(fix).join(",") });
    return { ...job, ...fix };
  }

  #apply(record: JournalRecord): void {
    if (record.t === "job") this.#putJob(record.job);
    else if (record.t === "runner") this.#runners.set(record.runner.id, record.runner);
    else this.#runners.delete(record.id);
  }

  #putJob(job: StoredJob): void {
    this.#jobs.set(job.id, job);
    if (job.queueSeq > this.#maxQueueSeq) this.#maxQueueSeq = job.queueSeq;
  }
}

/** The snapshot's text; one larger than this store can write is refused before it is read. */
function readSnapshot(file: string, maxBytes: number): string {
  try {
    return readTextFileBoundedSync(file, maxBytes);
  } catch (error) {
    if (error instanceof FileTooLargeError) throw new EdgeError("config_invalid", `Cannot load the controller's snapshot: ${error.message} (the largest snapshot this controller can write): it is not this store's`);
    throw error;
  }
}
