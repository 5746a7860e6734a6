// The runner's job storage: opens one AttemptStorage per job attempt under
// `<runnerId>/<jobId>/<attempt>/`, deletes it when the attempt ends (retrying a failed deletion
// with backoff, counting and logging every failure), and sweeps orphans of a crashed process at
// start and periodically. Backend-independent: the ObjectStore is the local directory or S3.

import { EdgeError, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { sleep as realSleep } from "../util/time.ts";
import { AttemptStorage, type StorageLimits } from "./attempt-storage.ts";
import type { ObjectStore } from "./object-store.ts";
import { PrefixDeletions } from "./prefix-deletions.ts";
import { attemptPrefix, runnerPrefix, unhashedRunnerPrefix, type AttemptId } from "./storage-keys.ts";
import { StorageStats } from "./storage-stats.ts";
import { sweepOrphans } from "./sweeper.ts";
import { emptySweepReport, type SweepReport } from "./sweep-report.ts";

export interface StorageServiceOptions {
  store: ObjectStore;
  runnerId: string;
  limits: StorageLimits;
  logger: Logger;
  /** An orphaned attempt is deleted once its newest object is this old. */
  sweepGraceMs: number;
  /** How often the sweeper looks for orphans; 0 sweeps only at start. */
  sweepIntervalMs: number;
  /** Deletion retries after the first failure, with doubling waits from retryBaseMs (default 5 and 500 ms). */
  retries?: number;
  retryBaseMs?: number;
  clock?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

type ServiceState = "running" | "closed";

export class StorageService {
  readonly stats: StorageStats;
  readonly #options: StorageServiceOptions;
  readonly #log: Logger;
  /** Where this runner's objects are, and where an earlier version kept them if that differs. */
  readonly #runnerPrefixes: readonly string[];
  /** Attempt prefixes in use: open attempts and cleanups still retrying. */
  readonly #live = new Map<string, AttemptStorage>();
  readonly #cleaning = new Set<string>();
  /**
   * Attempts whose cleanup gave up or was handed over to the same attempt opened again: their
   * objects still count as alive until their prefix is deleted. Several per prefix (the same
   * attempt opened again more than once): keeping only the last, the earlier ones counted forever.
   */
  readonly #abandoned = new Map<string, AttemptStorage[]>();
  /** Deletions under way (cleanups and the sweeper's): the same attempt opened again waits for them. */
  readonly #deletions = new PrefixDeletions();
  readonly #stop = new AbortController();
  readonly #clock: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<SweepReport> | undefined;
  #state: ServiceState = "running";
  /**
   * From the last sweep: when a sweep first saw each attempt or upload the store gives no date.
   * Each sweep's report carries on what it did not reach (undated-since.ts), so taking it whole
   * after a sweep that failed part-way forgets nothing.
   */
  #undatedSince: ReadonlyMap<string, number> = new Map();
  /** From the last sweep: jobs whose listing failed, listed after the others by the next (sweeper.ts). */
  #failedJobs: ReadonlySet<string> = new Set();
  /** The sweep's skipped names were logged (sweeper.ts SweepReport.skipped). */
  #skipWarned = false;

  constructor(options: StorageServiceOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: "storage", backend: options.store.kind });
    const unhashed = unhashedRunnerPrefix(options.runnerId);
    this.#runnerPrefixes = [runnerPrefix(options.runnerId), ...(unhashed === undefined ? [] : [unhashed])];
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
    this.stats = new StorageStats(options.store.kind, options.store.location);
  }

  get store(): ObjectStore { return this.#options.store; }

  /** The storage of one attempt; the same object for the same attempt while it is open. */
  open(job: AttemptId): AttemptStorage {
    if (this.#state === "closed") throw new EdgeError("storage_closed", `Cannot open storage for job "${job.jobId}": the runner's storage is closed`);
    const prefix = attemptPrefix(this.#options.runnerId, job);
    const existing = this.#live.get(prefix);
    if (existing !== undefined && existing.state === "open") return existing;
    // A deletion of the prefix under way (an earlier cleanup of this attempt, or the sweeper) would
    // take this one's objects with it: its calls wait until that has ended.
    const deletion = this.#deletions.settled(prefix);
    const storage = new AttemptStorage({ store: this.#options.store, prefix, label: `${job.jobId}#${job.attempt}`, limits: this.#options.limits, stats: this.stats, ...(deletion === undefined ? {} : { deletion }) });
    this.#live.set(prefix, storage);
    return storage;
  }

  /**
   * Ends the attempt and deletes its objects. Resolves after the first deletion try; when that
   * fails, retries continue in the background with backoff, every failure counted and logged,
   * and what is still left after the last retry is the sweeper's.
   */
  async release(storage: AttemptStorage): Promise<void> {
    await storage.end();
    this.#cleaning.add(storage.prefix);
    if (this.#live.get(storage.prefix) === storage) this.#live.delete(storage.prefix);
    const first = await this.#deleteUnlessReopened(storage, 0);
    if (first === "failed") void this.#retry(storage);
  }

  /** Looks for orphans of this runner now; one sweep at a time. */
  sweep(): Promise<SweepReport> {
    this.#sweeping ??= sweepOrphans({
      store: this.#options.store,
      runnerPrefixes: this.#runnerPrefixes,
      busy: (prefix) => this.#live.has(prefix) || this.#cleaning.has(prefix),
      graceMs: this.#options.sweepGraceMs,
      now: this.#clock(),
      signal: this.#stop.signal,
      onDeleted: (prefix) => this.#forgetAbandoned(prefix),
      deletions: this.#deletions,
      undatedSince: this.#undatedSince,
      failedJobs: this.#failedJobs,
    }).then((report) => {
      this.#undatedSince = report.undatedSince;
      this.#failedJobs = report.failedJobs;
      this.stats.pendingSweeps = report.pending;
      this.stats.sweptAttempts += report.deleted;
      this.stats.lastSweepAt = this.#clock();
      if (report.deleted > 0) this.#log.info("Deleted objects of job attempts a previous run of this runner left behind", { attempts: report.deleted });
      if (report.abortedUploads > 0) this.#log.info("Aborted unfinished uploads a previous run of this runner left behind", { uploads: report.abortedUploads });
      // Once per process: the same names come back at every sweep.
      if (report.skipped > 0 && !this.#skipWarned) {
        this.#skipWarned = true;
        this.#log.warn("Skipped prefixes under this runner's storage prefix that are not its job/attempt layout; nothing under them is deleted (logged once)", { skipped: report.skipped, first: report.firstSkipped });
      }
      if (report.failed > 0) {
        this.stats.cleanupFailures += report.failed;
        this.stats.lastError = report.errors[0];
        this.#log.warn("Cannot list or delete objects of orphaned job attempts; the next sweep tries again", { attempts: report.failed, error: report.errors[0] });
      }
      return report;
    }, (error: unknown) => {
      const message = serializeError(error).message;
      this.stats.lastError = message;
      this.#log.warn("Cannot sweep orphaned job storage", { error: message });
      return { ...emptySweepReport({ undatedSince: new Map(this.#undatedSince), failedJobs: new Set(this.#failedJobs) }), pending: this.stats.pendingSweeps, errors: [message] };
    }).finally(() => { this.#sweeping = undefined; });
    return this.#sweeping;
  }

  /** Sweeps now, then every sweepIntervalMs. */
  start(): Promise<SweepReport> {
    const first = this.sweep();
    if (this.#options.sweepIntervalMs > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.sweep(), this.#options.sweepIntervalMs);
      // The sweeper must not keep a finished process alive.
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return first;
  }

  /** Stops the sweeper and background retries, then the backend. Open attempts are released first. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    for (const storage of [...this.#live.values()]) await this.release(storage).catch(() => undefined);
    this.#state = "closed";
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#stop.abort();
    await this.#sweeping;
    await this.#options.store.close();
  }

  async #retry(storage: AttemptStorage): Promise<void> {
    const retries = this.#options.retries ?? 5;
    const base = this.#options.retryBaseMs ?? 500;
    this.stats.cleanupsRetrying++;
    try {
      for (let n = 1; n <= retries && !this.#stop.signal.aborted; n++) {
        await this.#sleep(base * 2 ** (n - 1), this.#stop.signal);
        if (this.#stop.signal.aborted) break;
        if (await this.#deleteUnlessReopened(storage, n) !== "failed") return;
      }
      // Left to the sweeper, which only skips prefixes still in use.
      this.#cleaning.delete(storage.prefix);
      this.#abandon(storage);
      const when = this.#options.sweepIntervalMs > 0 ? "a later sweep deletes them once they are older than its grace period" : "the sweep at the runner's next start deletes them (storageSweepIntervalMs is 0)";
      this.#log.error(`Giving up deleting a job attempt's objects; ${when}`, { attempt: storage.label, prefix: storage.prefix });
    } finally {
      this.stats.cleanupsRetrying--;
    }
  }

  #abandon(storage: AttemptStorage): void {
    const earlier = this.#abandoned.get(storage.prefix);
    if (earlier === undefined) this.#abandoned.set(storage.prefix, [storage]);
    else if (!earlier.includes(storage)) earlier.push(storage);
  }

  /** The objects of the attempts whose cleanup gave up are gone (a sweep or a later cleanup deleted their prefix). */
  #forgetAbandoned(prefix: string): void {
    for (const storage of this.#abandoned.get(prefix) ?? []) storage.forget();
    this.#abandoned.delete(prefix);
  }

  /**
   * One try at deleting an ended attempt's prefix. When the same attempt was opened again
   * meanwhile (same job, same attempt number), deleting the prefix would take the new one's
   * objects: its own cleanup deletes the prefix, these objects with it, and forgets them then.
   * The check and the deletion's registration are one step (no await between), so an attempt
   * opened after it waits for the deletion instead (prefix-deletions.ts).
   */
  #deleteUnlessReopened(storage: AttemptStorage, attempt: number): Promise<"deleted" | "failed" | "handed_over"> {
    const reopened = this.#live.get(storage.prefix);
    if (reopened !== undefined && reopened !== storage) {
      this.#cleaning.delete(storage.prefix);
      this.#abandon(storage);
      return Promise.resolve("handed_over");
    }
    return this.#deletions.run(storage.prefix, async () => await this.#deleteOnce(storage, attempt) ? "deleted" : "failed");
  }

  async #deleteOnce(storage: AttemptStorage, attempt: number): Promise<boolean> {
    try {
      await this.#options.store.deletePrefix(storage.prefix);
      storage.forget();
      this.#cleaning.delete(storage.prefix);
      // The same attempt opened again after an earlier cleanup of it gave up: this deletion took
      // that one's objects too, so they stop counting as well.
      this.#forgetAbandoned(storage.prefix);
      return true;
    } catch (error) {
      const message = serializeError(error).message;
      this.stats.cleanupFailures++;
      this.stats.lastError = message;
      this.#log.warn("Cannot delete a job attempt's objects", { attempt: storage.label, try: attempt + 1, error: message });
      return false;
    }
  }
}
