// Reading one of the runner's own local files (a saved result, an outbox record, a key, a config
// file) with a byte cap: a full or corrupted disk, a bug or a local attacker can leave a huge file
// in the data dir, and reading it whole would end the runner out of memory instead of with an
// error that names the file. The opened file's size is checked first (fstat), and at most
// cap + 1 bytes are read, so a file that grows while it is read is refused too. A caller that
// reads a file it wrote itself asks for a regular file: then a FIFO, device or directory left at
// the path is refused at once instead of blocking the read forever (open() of a FIFO waits for
// a writer), and with noFollow a symlink there is refused too.

import * as fs from "node:fs";
import { open } from "node:fs/promises";

/** A file over its cap; `message` names the file, its size and the cap. */
export class FileTooLargeError extends Error {
  readonly file: string;
  /** The size seen: the fstat size, or the bytes read when it grew while read. */
  readonly size: number;
  readonly maxBytes: number;
  constructor(file: string, size: number, maxBytes: number) {
    super(`The file "${file}" is ${size} bytes, over the cap of ${maxBytes} bytes for it; not read`);
    this.name = "FileTooLargeError";
    this.file = file;
    this.size = size;
    this.maxBytes = maxBytes;
  }
}

/** Something other than a regular file at a path read with `regularOnly`; `message` names it. */
export class NotRegularFileError extends Error {
  readonly file: string;
  /** What is there: "FIFO", "directory", "device", "socket" or "special file". */
  readonly kind: string;
  constructor(file: string, kind: string) {
    super(`The path "${file}" is a ${kind}, not a regular file; not read`);
    this.name = "NotRegularFileError";
    this.file = file;
    this.kind = kind;
  }
}

export interface ReadFileBoundedOptions {
  /**
   * Refuse (NotRegularFileError) anything but a regular file, without blocking: the file is
   * opened O_NONBLOCK, which a regular file ignores and which keeps open() of a FIFO from waiting.
   * Default false: an operator's path may be a stream on purpose (`--input-file <(...)`).
   */
  regularOnly?: boolean;
  /**
   * Refuse a symlink at the path itself (error code ELOOP, O_NOFOLLOW): for files only the runner
   * writes, in its data dir. Not for mounted credentials: Kubernetes secret and ConfigMap files are symlinks.
   */
  noFollow?: boolean;
}

/**
 * How to read a file the runner itself wrote (temp file and rename) in its own directories: a
 * FIFO, device or symlink there is not one, and must fail the read rather than block it forever.
 */
export const OWN_FILE: Readonly<ReadFileBoundedOptions> = Object.freeze({ regularOnly: true, noFollow: true });

/**
 * The cap for a file that holds one credential: a token, a password, a PEM key or certificate, a
 * JWK (a few KiB at most; an RSA-4096 PEM is 3.3 KiB). A bigger file is not one.
 */
export const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024;

/** At most 64 KiB, then grows: a small file costs a small buffer, a cap costs at most cap + 1. */
const FIRST_READ = 64 * 1024;

/** The bytes of `file`, or FileTooLargeError if it is (or grows while read) over `maxBytes`. */
export async function readFileBounded(file: string, maxBytes: number, options: ReadFileBoundedOptions = {}): Promise<Uint8Array> {
  const handle = await open(file, openFlags(options));
  try {
    const info = await handle.stat();
    if (options.regularOnly === true) refuseIrregular(file, info);
    const { size } = info;
    if (size > maxBytes) throw new FileTooLargeError(file, size, maxBytes);
    let buffer: Buffer = Buffer.alloc(firstSize(size, maxBytes));
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        if (filled > maxBytes) throw new FileTooLargeError(file, filled, maxBytes);
        buffer = grow(buffer, maxBytes);
      }
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** readFileBounded() for synchronous callers (config and key files read at start). */
export function readFileBoundedSync(file: string, maxBytes: number, options: ReadFileBoundedOptions = {}): Uint8Array {
  const fd = fs.openSync(file, openFlags(options));
  try {
    const info = fs.fstatSync(fd);
    if (options.regularOnly === true) refuseIrregular(file, info);
    const { size } = info;
    if (size > maxBytes) throw new FileTooLargeError(file, size, maxBytes);
    let buffer: Buffer = Buffer.alloc(firstSize(size, maxBytes));
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        if (filled > maxBytes) throw new FileTooLargeError(file, filled, maxBytes);
        buffer = grow(buffer, maxBytes);
      }
      const bytesRead = fs.readSync(fd, buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    fs.closeSync(fd);
  }
}

/** The file as UTF-8 text, read through readFileBounded(). */
export async function readTextFileBounded(file: string, maxBytes: number, options: ReadFileBoundedOptions = {}): Promise<string> {
  return Buffer.from(await readFileBounded(file, maxBytes, options)).toString("utf8");
}

/** The file as UTF-8 text, read through readFileBoundedSync(). */
export function readTextFileBoundedSync(file: string, maxBytes: number, options: ReadFileBoundedOptions = {}): string {
  return Buffer.from(readFileBoundedSync(file, maxBytes, options)).toString("utf8");
}

// One byte past the size fstat gave, so the end is seen without a second buffer (a file in /proc
// says 0: it starts small and grows).
function firstSize(size: number, maxBytes: number): number {
  return Math.min(Math.max(size + 1, Math.min(FIRST_READ, maxBytes + 1)), maxBytes + 1);
}

function grow(buffer: Buffer, maxBytes: number): Buffer {
  const next = Buffer.alloc(Math.min(buffer.length * 2, maxBytes + 1));
  buffer.copy(next);
  return next;
}

// Windows has neither flag (its constants are undefined): there a FIFO cannot be made at a path.
function openFlags(options: ReadFileBoundedOptions): number {
  const c = fs.constants;
  return c.O_RDONLY | (options.regularOnly === true ? (c.O_NONBLOCK ?? 0) : 0) | (options.noFollow === true ? (c.O_NOFOLLOW ?? 0) : 0);
}

function refuseIrregular(file: string, info: fs.Stats): void {
  if (info.isFile()) return;
  const kind = info.isFIFO() ? "FIFO" : info.isDirectory() ? "directory" : info.isCharacterDevice() || info.isBlockDevice() ? "device" : info.isSocket() ? "socket" : "special file";
  throw new NotRegularFileError(file, kind);
}
