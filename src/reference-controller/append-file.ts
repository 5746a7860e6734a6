// One append-only file of the controller (the journal, an event segment): appends are buffered
// in memory and written in one `write` by the group commit, which also makes them durable.
//
// The file grows in steps of zeros written ahead of the data (PREALLOCATE_BYTES). An fdatasync of
// bytes written over blocks the file already has is a data write only, while an append that grows
// the file also commits the file system's journal (its size and extents): on this project's
// 2-core VM 0.24-0.32 ms against 0.36-0.44 ms per batch at the median (docs/performance.md,
// "sixth round"), and a batch's sync is on every job's path from submit to its offer. Only the
// batch that crosses into a new step pays the commit. So the bytes past the data are zeros: a
// reader stops at the first zero byte (src/util/read-lines.ts), and the next start cuts the file
// there (jsonl-file.ts), also dropping whatever a crash left beyond it (pages of a batch never
// acknowledged, written back out of order).
//
// On a nearly full disk the zeros are room the store can do without: a step that does not fit is
// given up (the zeros it got stay, the data goes over them), so the store fails only when the
// data itself does not fit, the need the full-disk probe waits for (store-failure.ts). A restart
// after that probe must not fail its first batch for want of zeros (a restart every 5 s).

import * as fs from "node:fs";
import { isNoSpace, noteRoomNeeded } from "./store-failure.ts";

/** How far ahead of the data the file is grown, in zeros (the default; 0 appends as it goes). */
export const PREALLOCATE_BYTES = 1024 * 1024;
const ZEROS = Buffer.alloc(64 * 1024);

export class AppendFile {
  readonly path: string;
  readonly #fd: number;
  #pending: string[] = [];
  /** Bytes in the file plus bytes still buffered: the offset of the next append. */
  #size: number;
  /** Bytes of data written to the file: where the next write goes. */
  #written: number;
  /** The file's length on disk, data and zeros ahead of it. */
  #allocated: number;
  /** Written since the last sync started. */
  #dirty = false;
  /** Data written when the last sync started: what that batch makes durable. */
  #syncing: number;
  /** The end of the last batch acknowledged (what the file held at open, else its last durable sync's `#syncing`). */
  #acknowledged: number;
  #closed = false;
  #room: number;
  /** After a step of zeros did not fit: no step is tried again before the data reaches here. */
  #growAgainAt = 0;
  #sealed = false;
  /** The error of a failed write: the file takes no more writes. */
  #broken: Error | undefined;
  /** A writer that serializes late (the store's journal) appends its text here, before a write. */
  #beforeWrite: (() => void) | undefined;
  #noRoomAhead: ((error: Error) => void) | undefined;

  /**
   * Opens (creating, mode 0600) for writing and reading. Its data must end at the file's end:
   * a reader of the file cut the zeros past its data first (`readJsonl`, the event journal's load).
   * Not O_APPEND: writes go to the end of the data, before the zeros.
   */
  constructor(file: string, room = PREALLOCATE_BYTES) {
    this.path = file;
    this.#room = room;
    this.#fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    this.#size = fs.fstatSync(this.#fd).size;
    this.#written = this.#size;
    this.#allocated = this.#size;
    this.#syncing = this.#size;
    this.#acknowledged = this.#size;
  }

  get fd(): number { return this.#fd; }
  get size(): number { return this.#size; }
  get closed(): boolean { return this.#closed; }
  get hasPending(): boolean { return this.#pending.length > 0; }

  /** Runs `hook` before buffered text is written (and before a read), so it can append what it holds. */
  beforeWrite(hook: () => void): void {
    this.#beforeWrite = hook;
  }

  /**
   * Runs `listener` when a step of zeros does not fit (#grow): the first sign of a nearly full
   * disk, while writes still succeed (the group commit warns, rate-limited).
   */
  onNoRoomAhead(listener: (error: Error) => void): void {
    this.#noRoomAhead = listener;
  }

  /** Buffers `text` (whole lines, ending in "\n"); returns its byte offset in the file. */
  append(text: string): number {
    const offset = this.#size;
    this.#size += Buffer.byteLength(text);
    this.#pending.push(text);
    return offset;
  }

  /**
   * Writes the buffered text (page cache only, no sync), growing the file in zeros first when it
   * reaches past them. Returns whether the file has bytes that are not yet covered by a sync.
   *
   * A failed write breaks the file for good: this and every later call throw that error, so the
   * group commit fails the store (nothing of the batch acknowledged) even when a log read was the
   * caller that met it, and the file is cut back to the data written before, best effort, so a
   * refused batch is not replayed by the next start.
   */
  writePending(): boolean {
    if (this.#broken !== undefined) throw this.#broken;
    this.#beforeWrite?.();
    if (this.#pending.length > 0) {
      const buffer = Buffer.from(this.#pending.join(""), "utf8");
      this.#pending = [];
      try {
        // Zeros first, as far as they fit (#grow): a write that fails part-way is cut back below.
        const end = this.#written + buffer.length;
        if (end > this.#allocated && this.#room > 0 && end >= this.#growAgainAt) this.#grow(end + this.#room);
        let offset = 0;
        while (offset < buffer.length) offset += fs.writeSync(this.#fd, buffer, offset, buffer.length - offset, this.#written + offset);
      } catch (error) {
        this.#broken = error instanceof Error ? error : new Error(String(error));
        // What the restart's first batch will need again (a client resends it): the probe waits for it.
        noteRoomNeeded(this.#broken, buffer.length);
        // Best effort; else the next start cuts it (a torn line, or lines past the zeros).
        this.#cutZeros();
        throw this.#broken;
      }
      this.#written += buffer.length;
      this.#dirty = true;
      if (this.#written > this.#allocated) this.#allocated = this.#written;
      if (this.#sealed && this.#allocated > this.#written) this.#cutZeros();
    }
    return this.#dirty;
  }

  /**
   * No more appends will come (an event segment the journal moved on from): the zeros ahead of
   * the data are cut when the rest is written, and the file no longer grows ahead.
   */
  seal(): void {
    this.#sealed = true;
    this.#room = 0;
    if (this.#pending.length === 0 && this.#allocated > this.#written) this.#cutZeros();
  }

  /**
   * The file must not be written (its data does not end where it does: a reader could not cut
   * it, jsonl-file.ts): every write throws `error`, reads of the data are served.
   */
  refuseWrites(error: Error): void {
    this.#broken ??= error;
  }

  /** Called as a sync of this file starts: later writes need another one. */
  markSyncStarted(): void {
    this.#dirty = false;
    this.#syncing = this.#written;
  }

  /** Called once the batch of the last sync started is durable and acknowledged. No syscall: every batch pays it. */
  markDurable(): void {
    this.#acknowledged = this.#syncing;
  }

  /**
   * The group commit refused a batch (this file's write or sync failed, or another file's): the
   * file takes no more writes (`error`), and its data past the last acknowledged batch is cut off,
   * synced, best effort, so a restart does not replay a batch no one was told of. Reads of what
   * was cut throw `error`; what was acknowledged is still read.
   */
  abandon(error: Error): void {
    this.#broken ??= error;
    this.#pending = [];
    if (this.#written > this.#acknowledged) this.#written = this.#acknowledged;
    if (this.#closed || this.#allocated === this.#written) return;
    this.#cutZeros();
    try {
      fs.fdatasyncSync(this.#fd);
    } catch {
      // The cut stands for the next start in this boot; the next start cuts at the zeros anyway.
    }
  }

  /**
   * Reads `length` bytes at `offset`; bytes still buffered are written first, so every append is
   * readable. Once a write failed, what was written before it is still served from the file (it
   * is intact up to there; the failure cut back only what it added); bytes never written throw
   * that failure.
   */
  read(offset: number, length: number): Buffer {
    if (offset + length > this.#written) this.writePending();
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.#fd, buffer, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? buffer : buffer.subarray(0, done);
  }

  /** Empties the file (after a snapshot made its content redundant) and fsyncs that. */
  truncate(): void {
    this.#pending = [];
    fs.ftruncateSync(this.#fd, 0);
    fs.fsyncSync(this.#fd);
    this.#size = 0;
    this.#written = 0;
    this.#allocated = 0;
    this.#dirty = false;
    this.#syncing = 0;
    this.#acknowledged = 0;
  }

  /** Closes the file, first cutting the zeros past its data (a stopped controller leaves only data). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#allocated > this.#written) this.#cutZeros();
    fs.closeSync(this.#fd);
  }

  /** Cuts the file back to its data written (the zeros ahead, or a write that failed part-way). */
  #cutZeros(): void {
    try {
      fs.ftruncateSync(this.#fd, this.#written);
      this.#allocated = this.#written;
    } catch {
      // The zeros stay; the next start cuts them.
    }
  }

  /**
   * Writes zeros from the end of the file to `end`; the batch's sync makes them durable with it.
   * No space for them: the zeros written so far stay (the data goes over them, needing no more
   * room than without them) and the next step is tried only a step of data later, so a nearly
   * full disk costs one failed write per step, not per batch.
   */
  #grow(end: number): void {
    try {
      for (let at = this.#allocated; at < end;) {
        at += fs.writeSync(this.#fd, ZEROS, 0, Math.min(ZEROS.length, end - at), at);
        this.#allocated = at;
      }
    } catch (error) {
      if (!isNoSpace(error)) throw error;
      this.#growAgainAt = end;
      this.#noRoomAhead?.(error as Error);
    }
  }
}
