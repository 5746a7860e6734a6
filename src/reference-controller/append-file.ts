// One append-only file of the controller (the journal, an event segment): appends are buffered
// in memory and written in one `write` by the group commit, which also fsyncs them.

import * as fs from "node:fs";

export class AppendFile {
  readonly path: string;
  readonly #fd: number;
  #pending: string[] = [];
  /** Bytes in the file plus bytes still buffered: the offset of the next append. */
  #size: number;
  /** Written since the last fsync started. */
  #dirty = false;
  #closed = false;
  /** A writer that serializes late (the store's journal) appends its text here, before a write. */
  #beforeWrite: (() => void) | undefined;

  /** Opens (creating, mode 0600) for appending and reading. */
  constructor(file: string) {
    this.path = file;
    this.#fd = fs.openSync(file, "a+", 0o600);
    this.#size = fs.fstatSync(this.#fd).size;
  }

  get fd(): number { return this.#fd; }
  get size(): number { return this.#size; }
  get closed(): boolean { return this.#closed; }
  get hasPending(): boolean { return this.#pending.length > 0; }

  /** Runs `hook` before buffered text is written (and before a read), so it can append what it holds. */
  beforeWrite(hook: () => void): void {
    this.#beforeWrite = hook;
  }

  /** Buffers `text` (whole lines, ending in "\n"); returns its byte offset in the file. */
  append(text: string): number {
    const offset = this.#size;
    this.#size += Buffer.byteLength(text);
    this.#pending.push(text);
    return offset;
  }

  /**
   * Writes the buffered text (page cache only, no fsync). Returns whether the file has bytes that
   * are not yet covered by an fsync. A failed write leaves at most a torn last line, which the
   * next start cuts off.
   */
  writePending(): boolean {
    this.#beforeWrite?.();
    if (this.#pending.length > 0) {
      const buffer = Buffer.from(this.#pending.join(""), "utf8");
      this.#pending = [];
      let offset = 0;
      while (offset < buffer.length) offset += fs.writeSync(this.#fd, buffer, offset);
      this.#dirty = true;
    }
    return this.#dirty;
  }

  /** Called as an fsync of this file starts: later writes need another one. */
  markSyncStarted(): void {
    this.#dirty = false;
  }

  /** Reads `length` bytes at `offset`, writing buffered text first so every append is readable. */
  read(offset: number, length: number): Buffer {
    this.writePending();
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
    this.#dirty = false;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }
}
