// Group commit for the controller's files: appends made during one turn of the event loop are
// written and fsync'd together, and what depends on them (an offer, an ack, an API answer) runs
// only once they are durable. One fsync per file per batch instead of one per change.
//
// "fsync" here is fdatasync(2): it writes the data and whatever metadata reading it back needs
// (a grown file's size and blocks), and skips only what is not needed (times). Files grow ahead
// of their data in zeros (append-file.ts), so most batches need no file system journal commit.

import * as fs from "node:fs";
import { EdgeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { PREALLOCATE_BYTES, type AppendFile } from "./append-file.ts";
import { nearlyFullWarning } from "./nearly-full-warning.ts";
import { storeRefusal } from "./store-failure.ts";

export type FsyncFn = (fd: number, done: (error: Error | null) => void) => void;

export interface GroupCommitOptions {
  /** Runs a flush later. Default `setImmediate`: every append of this turn joins the batch. */
  schedule?: (flush: () => void) => void;
  /** Default `fs.fdatasync` on the thread pool, so the event loop keeps working during the fsync. */
  fsync?: FsyncFn;
  /**
   * The fsync on this thread for a small batch while `fsyncHereWhen()` says the controller is
   * quiet (default `fs.fdatasyncSync`, unless `fsync` is given alone): a lone submit then skips two
   * hand-offs to and from a pool thread, a good part of its latency on an idle machine
   * (docs/performance.md, issue 15). A busy store keeps the thread pool: the event loop works
   * and the next batch gathers during the fsync.
   */
  fsyncHere?: (fd: number) => void;
  /** At most this many appends make a batch small (default 4: a submit and its lease). */
  loneAppends?: number;
  /** How the store gets back from a failure, for the log line (default: a restart replays the disk). */
  recovery?: string;
  /**
   * How far the files grow ahead of their data, in zeros (append-file.ts; default 1 MiB). Writes
   * that fit there still succeed on a full disk; tests of the full disk at one write site set 0.
   */
  preallocateBytes?: number;
  /** Clock of the rate limit of the "nearly full" warning (default `Date.now`). */
  now?: () => number;
}

/** No batching: every append is written and fsync'd before the call that made it returns. */
export const SYNCHRONOUS: Required<Pick<GroupCommitOptions, "schedule" | "fsync">> = {
  schedule: (flush) => flush(),
  fsync: (fd, done) => {
    let error: Error | null = null;
    try {
      fs.fdatasyncSync(fd);
    } catch (caught) {
      error = caught instanceof Error ? caught : new Error(String(caught));
    }
    done(error);
  },
};

export interface GroupCommitStats {
  /** Batches made durable. */
  flushes: number;
  fsyncs: number;
  /** Batches fsync'd on the event loop's thread (small ones while the controller was quiet). */
  quietBatches: number;
}

/**
 * Something other than a file that makes appends durable (the PostgreSQL store: one transaction
 * per batch). `takePending` moves what was appended since its last call into the batch; `sync`
 * makes that batch durable and calls `done` once (null = committed).
 */
export interface DurableSink {
  takePending(): boolean;
  sync(done: (error: Error | null) => void): void;
}

interface Waiting {
  target: number;
  run: () => void;
  fail?: (error: Error) => void;
}

export class GroupCommit {
  readonly #files = new Set<AppendFile>();
  readonly #sinks = new Set<DurableSink>();
  /** Closed while an fsync on them may be running: closed when it ends. */
  readonly #retired: AppendFile[] = [];
  readonly #schedule: (flush: () => void) => void;
  readonly #fsync: FsyncFn;
  readonly #fsyncHere: ((fd: number) => void) | undefined;
  readonly #loneAppends: number;
  #quiet: () => boolean = () => false;
  readonly #logger: Logger;
  readonly #recovery: string;
  readonly #onFailure: Array<(error: Error) => void> = [];
  readonly #afterFlush: Array<() => void> = [];
  /** Said when a file's zeros ahead of its data do not fit: the early sign of a full disk. */
  readonly #warnNearlyFull: (file: string, error: Error) => void;
  /** FIFO, targets ascending; `#head` avoids an O(n) shift per callback. */
  #waiting: Waiting[] = [];
  #head = 0;
  #appended = 0;
  #durable = 0;
  #scheduled = false;
  #inFlight = false;
  #failure: Error | undefined;
  /** `close()` was called: no more changes; the files are closed once no fsync runs (#whenClosed). */
  #closed = false;
  #filesClosed: () => void = () => {};
  readonly #whenClosed = new Promise<void>((resolve) => (this.#filesClosed = resolve));
  readonly stats: GroupCommitStats = { flushes: 0, fsyncs: 0, quietBatches: 0 };
  /** How far the files this commits grow ahead of their data (`new AppendFile(path, commits.preallocateBytes)`). */
  readonly preallocateBytes: number;

  constructor(options: GroupCommitOptions & { logger: Logger }) {
    this.#schedule = options.schedule ?? ((flush) => setImmediate(flush));
    this.#fsync = options.fsync ?? ((fd, done) => fs.fdatasync(fd, (error) => done(error)));
    this.#fsyncHere = options.fsyncHere ?? (options.fsync === undefined ? (fd) => fs.fdatasyncSync(fd) : undefined);
    this.#loneAppends = options.loneAppends ?? 4;
    this.preallocateBytes = options.preallocateBytes ?? PREALLOCATE_BYTES;
    this.#logger = options.logger;
    this.#recovery = options.recovery ?? "until a restart replays it from disk";
    this.#warnNearlyFull = nearlyFullWarning(options.logger, options.now);
  }

  /** The first write or fsync error; after it every change is refused (fail closed). */
  get failure(): Error | undefined { return this.#failure; }

  /** Whether everything appended so far is durable. */
  get idle(): boolean { return this.#appended === this.#durable && !this.#inFlight; }

  track(file: AppendFile): void {
    this.#files.add(file);
    file.onNoRoomAhead((error) => this.#warnNearlyFull(file.path, error));
  }

  /** Batches also go to `sink`; with a sink, `flushSync()` cannot make a batch durable. */
  trackSink(sink: DurableSink): void { this.#sinks.add(sink); }

  /** Stops flushing `file` and closes it (after a running fsync on it, if any). */
  retire(file: AppendFile): void {
    this.#files.delete(file);
    if (this.#inFlight) this.#retired.push(file);
    else file.close();
  }

  /** `listener` runs on the failure; added after it (a store that failed at open), at once. */
  onFailure(listener: (error: Error) => void): void {
    this.#onFailure.push(listener);
    if (this.#failure !== undefined) listener(this.#failure);
  }

  /** Small batches are fsync'd on this thread while `quiet()` (the core: at most one job leased). */
  fsyncHereWhen(quiet: () => boolean): void { this.#quiet = quiet; }

  /** Runs after every durable batch (the store compacts there). */
  afterFlush(hook: () => void): void { this.#afterFlush.push(hook); }

  /** Throws unless changes may be made: refused after a failure and after close. */
  check(action: string): void {
    if (this.#failure !== undefined) throw storeRefusal(action, this.#failure);
    if (this.#closed) throw new EdgeError("internal", `Cannot ${action}: the controller's store is closed`);
  }

  /** Call after appending to a tracked file: the append joins the next batch. */
  appended(): void {
    this.#appended++;
    if (!this.#scheduled && !this.#inFlight) {
      this.#scheduled = true;
      // Quiet (see fsyncHereWhen): the batch is written at the end of this task (a submit and
      // its lease), not on the loop's next turn, a wait that lies between a submit and its offer.
      if (this.#fsyncHere !== undefined && this.#sinks.size === 0 && this.#quiet()) queueMicrotask(() => this.#flush());
      else this.#schedule(() => this.#flush());
    }
  }

  /**
   * Runs `fn` once everything appended so far is durable: at once if it already is, else after
   * the batch's fsync, in call order. After a failure `fn` never runs (nothing is acknowledged).
   */
  afterDurable(fn: () => void, fail?: (error: Error) => void): void {
    if (this.#failure !== undefined) {
      fail?.(this.#failure);
      return;
    }
    if (this.#head === this.#waiting.length && this.#appended === this.#durable) {
      fn();
      return;
    }
    this.#waiting.push({ target: this.#appended, run: fn, ...(fail === undefined ? {} : { fail }) });
  }

  /** Resolves when everything appended so far is durable; rejects if the store failed. */
  durable(): Promise<void> {
    return new Promise((resolve, reject) => this.afterDurable(resolve, reject));
  }

  /** A batch's fsync is running on the thread pool: `flushSync()` must wait for its answer. */
  get batchInFlight(): boolean { return this.#inFlight; }

  /**
   * Writes and fsyncs everything now, on this thread: on disk when it returns. Only for steps
   * during which no batch's fsync runs on the thread pool (compaction, from `afterFlush`; the
   * event journal's migration at open; `close()`, which waits for that fsync), so it throws if
   * one does (`batchInFlight`). A caller that must know its change is durable while batches run
   * awaits `durable()` instead (the admin changes, controller.ts).
   *
   * Why not sync during such an fsync: a write-back error may be reported to one fsync of the
   * open file only (Linux: once per open file), maybe the pool's. Its failure refuses that batch,
   * yet a sync here would have put the batch on disk with what came after it, in the same file:
   * either what this caller was told is durable is cut, or the refused batch is replayed after a
   * restart (a job whose client was refused runs after all). Until 2026-12-02 it was the latter.
   */
  flushSync(): void {
    if (this.#failure !== undefined || this.#closed) return;
    if (this.#sinks.size > 0) {
      // A database commit is asynchronous: the batch goes out now, callers await `durable()`.
      if (!this.#scheduled && !this.#inFlight && this.#appended > this.#durable) this.#flush();
      return;
    }
    if (this.#inFlight) throw new EdgeError("internal", "Cannot flush the controller's store on this thread while a batch's fsync is running: await durable() instead");
    this.#syncNow();
  }

  /**
   * Stops taking changes, flushes what is left and closes the files. During a batch's thread-pool
   * fsync the rest waits for its answer (#finishClose): a failure refuses that batch and cuts
   * every file back to its last acknowledged batch first. `closed()` resolves once it is done.
   */
  close(): void {
    if (this.#closed) return;
    // A database commit is asynchronous: what is left goes out now (the caller awaited durable()).
    if (this.#sinks.size > 0) this.flushSync();
    this.#closed = true;
    if (!this.#inFlight) this.#finishClose();
  }

  /** Resolves once `close()` has flushed and closed every file. */
  closed(): Promise<void> { return this.#whenClosed; }

  #finishClose(): void {
    try {
      if (this.#failure === undefined && this.#sinks.size === 0) this.#syncNow();
    } finally {
      for (const file of [...this.#files]) this.retire(file);
      this.#filesClosed();
    }
  }

  /** flushSync() with no batch in flight (checked by the callers): syncs every file written since its last sync. */
  #syncNow(): void {
    const target = this.#appended;
    const synced: AppendFile[] = [];
    try {
      for (const file of this.#files) {
        if (file.writePending()) {
          file.markSyncStarted();
          this.stats.fsyncs++;
          fs.fdatasyncSync(file.fd);
          synced.push(file);
        }
      }
    } catch (error) {
      this.#fail(error);
      throw this.#failure;
    }
    this.stats.flushes++;
    for (const file of synced) file.markDurable();
    this.#markDurable(target);
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#inFlight || this.#failure !== undefined || this.#closed) return;
    const target = this.#appended;
    if (target === this.#durable) return;
    const dirty: AppendFile[] = [];
    const sinks: DurableSink[] = [];
    try {
      for (const file of this.#files) if (file.writePending()) dirty.push(file);
      for (const sink of this.#sinks) if (sink.takePending()) sinks.push(sink);
    } catch (error) {
      return this.#fail(error);
    }
    this.stats.flushes++;
    if (dirty.length === 0 && sinks.length === 0) return this.#markDurable(target);
    if (sinks.length === 0 && this.#fsyncHere !== undefined && target - this.#durable <= this.#loneAppends && this.#quiet()) {
      try {
        for (const file of dirty) {
          file.markSyncStarted();
          this.stats.fsyncs++;
          this.#fsyncHere(file.fd);
        }
      } catch (error) {
        return this.#fail(error);
      }
      this.stats.quietBatches++;
      for (const file of dirty) file.markDurable();
      return this.#markDurable(target);
    }
    this.#inFlight = true;
    let left = dirty.length + sinks.length;
    let failed: unknown;
    const done = (error: Error | null) => {
      if (error !== null) failed ??= error;
      if (--left > 0) return;
      this.#inFlight = false;
      for (const retired of this.#retired.splice(0)) retired.close();
      if (failed !== undefined) this.#fail(failed);
      else {
        for (const file of dirty) file.markDurable();
        this.#markDurable(target);
      }
      if (this.#closed) this.#finishCloseQuietly();
    };
    for (const file of dirty) {
      file.markSyncStarted();
      this.stats.fsyncs++;
      this.#fsync(file.fd, done);
    }
    for (const sink of sinks) sink.sync(done);
  }

  /** #finishClose() from a batch's answer: a failure of its flush is the store's (logged by #fail), not the batch's. */
  #finishCloseQuietly(): void {
    try {
      this.#finishClose();
    } catch {
      // #fail logged it and refused what waited.
    }
  }

  /**
   * After a failure the store reloaded its view from the database: accept changes again. Only
   * for a sink-backed store (a file store restarts the process instead, see controller.ts).
   */
  recover(): boolean {
    if (this.#failure === undefined) return true;
    // A batch still out on the dead connection ends in a failure of its own: wait for it.
    if (this.#inFlight) return false;
    this.#failure = undefined;
    this.#durable = this.#appended;
    this.#scheduled = false;
    return true;
  }

  /**
   * A file whose data does not end where the file does (it could not be cut at open, jsonl-file.ts):
   * no write may follow what lies past its data, so it refuses writes and the store fails at once.
   * Opened, not thrown: its data is read, reads and health are served, the disk is probed (controller.ts).
   */
  failUncut(file: AppendFile, error: Error): void {
    file.refuseWrites(error);
    this.#fail(error);
  }

  /** Fails the store from outside a batch (the database connection was lost while idle). */
  failNow(cause: unknown): void {
    this.#fail(cause);
  }

  #markDurable(target: number): void {
    if (target > this.#durable) this.#durable = target;
    // Callbacks may append and even flush (synchronous test scheduling): the loop re-reads state.
    while (this.#head < this.#waiting.length && (this.#waiting[this.#head] as Waiting).target <= this.#durable) {
      const waiting = this.#waiting[this.#head++] as Waiting;
      try {
        waiting.run();
      } catch (error) {
        this.#logger.error("A callback after a durable write failed", { error: String(error) });
      }
    }
    if (this.#head === this.#waiting.length) {
      this.#waiting = [];
      this.#head = 0;
    }
    for (const hook of this.#afterFlush) {
      try {
        hook();
      } catch (error) {
        // A background step after a batch (compaction) must never end the process.
        this.#logger.error("A step after a durable write failed", { error: String(error).slice(0, 300) });
      }
    }
    if (this.#appended > this.#durable && !this.#scheduled && !this.#inFlight && this.#failure === undefined && !this.#closed) {
      this.#scheduled = true;
      this.#schedule(() => this.#flush());
    }
  }

  #fail(cause: unknown): void {
    if (this.#failure !== undefined) return;
    const error = cause instanceof Error ? cause : new Error(String(cause));
    this.#failure = error;
    // A batch spans files (the journal, the open event segment): where one failed, another may
    // hold its part, written or even synced. Nothing of it was acknowledged, so no file keeps it
    // for a restart to replay: each goes back to the end of its last acknowledged batch.
    for (const file of this.#files) file.abandon(error);
    this.#logger.error(`Cannot write the controller's store: refusing every change ${this.#recovery}`, { error: error.message });
    // What waited for this batch was never acknowledged; runners and clients will resend.
    const waiting = this.#waiting.slice(this.#head);
    this.#waiting = [];
    this.#head = 0;
    for (const w of waiting) w.fail?.(error);
    for (const listener of this.#onFailure) listener(error);
  }
}
