// The controller's durable state: jobs and runners in memory, every change appended to an
// fsync'd journal first, replayed on start, and folded into a snapshot when the journal grows.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import { appendJsonl, readJsonl, syncDirectory, writeFileAtomic } from "./jsonl-file.ts";
import type { JournalRecord, Snapshot, StoredJob, StoredRunner } from "./records.ts";

export interface ControllerStoreOptions {
  /** `<dataDir>/controller`; created when missing. */
  dir: string;
  logger: Logger;
  /** Journal lines after which the next commit writes a snapshot and starts a new journal. */
  compactAfter?: number;
}

const JOURNAL = "journal.jsonl";
const SNAPSHOT = "snapshot.json";

export class ControllerStore {
  readonly dir: string;
  readonly #logger: Logger;
  readonly #compactAfter: number;
  readonly #jobs = new Map<string, StoredJob>();
  readonly #runners = new Map<string, StoredRunner>();
  #fd: number | undefined;
  #journalLines = 0;
  #maxQueueSeq = 0;

  private constructor(options: ControllerStoreOptions) {
    this.dir = options.dir;
    this.#logger = options.logger;
    this.#compactAfter = options.compactAfter ?? 10_000;
  }

  /** Opens the store and replays snapshot + journal. A torn last journal line is skipped. */
  static open(options: ControllerStoreOptions): ControllerStore {
    const store = new ControllerStore(options);
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    store.#load();
    store.#fd = fs.openSync(path.join(options.dir, JOURNAL), "a", 0o600);
    return store;
  }

  get jobs(): ReadonlyMap<string, StoredJob> { return this.#jobs; }
  get runners(): ReadonlyMap<string, StoredRunner> { return this.#runners; }
  get journalLines(): number { return this.#journalLines; }

  /** The next FIFO position for a new job. */
  nextQueueSeq(): number {
    return ++this.#maxQueueSeq;
  }

  /**
   * Writes the records durably, then applies them in memory. If the write throws, memory is
   * unchanged, so the caller can answer with an error and nothing half-done remains.
   */
  commit(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    if (this.#fd === undefined) throw new Error("Cannot write to the controller store: it is closed");
    appendJsonl(this.#fd, records);
    this.#journalLines += records.length;
    for (const record of records) this.#apply(record);
    if (this.#journalLines >= this.#compactAfter) this.compact();
  }

  putJobs(jobs: readonly StoredJob[]): void {
    this.commit(jobs.map((job) => ({ t: "job", job })));
  }

  /** Folds everything into a new snapshot and starts an empty journal. */
  compact(): void {
    const snapshot: Snapshot = { v: 1, jobs: [...this.#jobs.values()], runners: [...this.#runners.values()] };
    writeFileAtomic(path.join(this.dir, SNAPSHOT), JSON.stringify(snapshot));
    // A crash between the rename and the truncate replays records the snapshot already holds:
    // harmless, because every record is a full upsert.
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = fs.openSync(path.join(this.dir, JOURNAL), "w", 0o600);
    fs.fsyncSync(this.#fd);
    syncDirectory(this.dir);
    this.#journalLines = 0;
    this.#logger.debug("Compacted the controller journal", { jobs: snapshot.jobs.length, runners: snapshot.runners.length });
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  #load(): void {
    const snapshotFile = path.join(this.dir, SNAPSHOT);
    if (fs.existsSync(snapshotFile)) {
      // The snapshot is written by rename, so it is whole or absent; a bad one is a real fault.
      const snapshot = JSON.parse(fs.readFileSync(snapshotFile, "utf8")) as Snapshot;
      for (const runner of snapshot.runners) this.#runners.set(runner.id, runner);
      for (const job of snapshot.jobs) this.#putJob(job);
    }
    const { values } = readJsonl(path.join(this.dir, JOURNAL), this.#logger);
    for (const value of values) {
      if (isRecord(value)) this.#apply(value);
      else this.#logger.error("Skipping an unknown journal record", { file: JOURNAL });
    }
    this.#journalLines = values.length;
    this.#logger.debug("Loaded the controller store", { jobs: this.#jobs.size, runners: this.#runners.size, journalLines: values.length });
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

function isRecord(value: unknown): value is JournalRecord {
  if (value === null || typeof value !== "object") return false;
  const r = value as Record<string, unknown>;
  const inner = (r.job ?? r.runner) as Record<string, unknown> | undefined;
  if (r.t === "job" || r.t === "runner") return inner !== null && typeof inner === "object" && typeof inner.id === "string";
  return r.t === "runner_deleted" && typeof r.id === "string";
}
