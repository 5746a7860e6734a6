// Reading a file of lines (the controller's JSON-lines journals) one line at a time, a chunk at a
// time: such a file has no size limit, so it is never read whole, and no more than `maxLineBytes`
// of one line is ever held. A longer line is passed over unkept (for a journal: a record its
// writer cannot have written, so corruption) and the bytes after the last newline are told apart
// (a write that never finished). Whole small files are read with read-file-bounded.ts instead.

import * as fs from "node:fs";

/** One line as read: `bytes` counts its newline; `number` is 1-based. */
export type LineRead =
  | { kind: "line"; number: number; offset: number; bytes: number; text: string }
  /** A line over `maxLineBytes` (newline not counted): its bytes were skipped, not kept. */
  | { kind: "too_long"; number: number; offset: number; bytes: number }
  /** The bytes after the last newline (never more than one; last, or before "zeros"); `text` is not kept. */
  | { kind: "torn"; number: number; offset: number; bytes: number }
  /**
   * With `zeroEndsData`: the file's data ends at `offset`, at its first zero byte; `bytes` from
   * there to the end of the file, of which `nonZero` were not zero. Always last.
   */
  | { kind: "zeros"; offset: number; bytes: number; nonZero: number };

export interface ReadLinesOptions {
  /** The longest line kept, in bytes without its newline. */
  maxLineBytes: number;
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number;
  /**
   * The first zero byte ends the data (a file grown ahead of its data in zeros, append-file.ts):
   * what comes before it on its line is a torn line, the rest one "zeros" record.
   */
  zeroEndsData?: boolean;
}

const CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 10;
const ZERO = 0;

/**
 * The lines of `file`, read as they are asked for; the file is closed when the loop ends or
 * breaks. Throws what opening or reading throws (ENOENT for a missing file).
 */
export function* readLinesSync(file: string, options: ReadLinesOptions): Generator<LineRead> {
  const fd = fs.openSync(file, "r");
  try {
    // The scan runs outside the generator: Bun runs a loop in a resumed generator about ten
    // times slower (an 8 GiB line took 12 s instead of 1.2 s).
    const scanner = new LineScanner(fd, options);
    for (let line = scanner.next(); line !== undefined; line = scanner.next()) yield line;
  } finally {
    fs.closeSync(fd);
  }
}

class LineScanner {
  readonly #fd: number;
  readonly #maxLineBytes: number;
  readonly #chunk: Buffer;
  /** The bytes of the last read, and where the scan is in them. */
  #view: Buffer = Buffer.alloc(0);
  #start = 0;
  #position = 0;
  /** The line being read: its offset, its bytes so far, and those bytes while under the cap. */
  #lineStart = 0;
  #lineBytes = 0;
  #parts: Buffer[] = [];
  #number = 0;
  #ended = false;
  readonly #zeroEndsData: boolean;
  /** The view's first zero byte (-1: none, or zeros do not end the data), searched once per read. */
  #zeroAt = -1;
  /** Where a zero byte ended the data, once found: the "zeros" record is next. */
  #dataEnd: number | undefined;

  constructor(fd: number, options: ReadLinesOptions) {
    this.#fd = fd;
    this.#maxLineBytes = options.maxLineBytes;
    this.#chunk = Buffer.alloc(options.chunkBytes ?? CHUNK_BYTES);
    this.#zeroEndsData = options.zeroEndsData === true;
  }

  next(): LineRead | undefined {
    if (this.#dataEnd !== undefined) return this.#zeros(this.#dataEnd);
    for (;;) {
      if (this.#start >= this.#view.length) {
        if (this.#ended) return undefined;
        const read = fs.readSync(this.#fd, this.#chunk, 0, this.#chunk.length, this.#position);
        if (read === 0) {
          this.#ended = true;
          return this.#lineBytes > 0 ? { kind: "torn", number: this.#number + 1, offset: this.#lineStart, bytes: this.#lineBytes } : undefined;
        }
        this.#position += read;
        this.#view = this.#chunk.subarray(0, read);
        this.#start = 0;
        // Once per read: searched per line, a chunk without a zero was scanned to its end for
        // every line (quadratic).
        this.#zeroAt = this.#zeroEndsData ? this.#view.indexOf(ZERO) : -1;
      }
      const view = this.#view;
      const start = this.#start;
      const newline = view.indexOf(NEWLINE, start);
      const zero = this.#zeroAt;
      if (zero !== -1 && (newline === -1 || zero < newline)) {
        const bytes = this.#lineBytes + (zero - start);
        this.#dataEnd = this.#position - view.length + zero;
        this.#start = view.length;
        return bytes > 0 ? { kind: "torn", number: this.#number + 1, offset: this.#lineStart, bytes } : this.#zeros(this.#dataEnd);
      }
      const end = newline === -1 ? view.length : newline;
      const wasOver = this.#lineBytes > this.#maxLineBytes;
      this.#lineBytes += end - start;
      if (this.#lineBytes > this.#maxLineBytes) {
        if (!wasOver) this.#parts = [];
      } else if (end > start) {
        // A copy: the chunk is read into again.
        this.#parts.push(Buffer.from(view.subarray(start, end)));
      }
      this.#start = end + 1;
      if (newline === -1) continue;
      this.#number++;
      const number = this.#number;
      const offset = this.#lineStart;
      const bytes = this.#lineBytes + 1;
      const line: LineRead = this.#lineBytes > this.#maxLineBytes
        ? { kind: "too_long", number, offset, bytes }
        : { kind: "line", number, offset, bytes, text: Buffer.concat(this.#parts).toString("utf8") };
      this.#lineStart += bytes;
      this.#lineBytes = 0;
      this.#parts = [];
      return line;
    }
  }

  /** The "zeros" record: the rest of the file read through, counting the bytes that are not zero. */
  #zeros(offset: number): LineRead {
    this.#dataEnd = undefined;
    this.#ended = true;
    let nonZero = 0;
    let position = offset;
    const zeros = Buffer.alloc(this.#chunk.length);
    for (;;) {
      const read = fs.readSync(this.#fd, this.#chunk, 0, this.#chunk.length, position);
      if (read === 0) break;
      position += read;
      const view = this.#chunk.subarray(0, read);
      // Whole chunks of zeros are the usual case: one comparison instead of a loop over bytes.
      if (!view.equals(zeros.subarray(0, read))) for (const byte of view) if (byte !== ZERO) nonZero++;
    }
    this.#view = Buffer.alloc(0);
    this.#start = 0;
    return { kind: "zeros", offset, bytes: position - offset, nonZero };
  }
}
