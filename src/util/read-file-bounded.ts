// Reading one of the runner's own local files (a saved result, an outbox record, a key, a config
// file) with a byte cap: a full or corrupted disk, a bug or a local attacker can leave a huge file
// in the data dir, and reading it whole would end the runner out of memory instead of with an
// error that names the file. The opened file's size is checked first (fstat), and at most
// cap + 1 bytes are read, so a file that grows while it is read is refused too.

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

/**
 * The cap for a file that holds one credential: a token, a password, a PEM key or certificate, a
 * JWK (a few KiB at most; an RSA-4096 PEM is 3.3 KiB). A bigger file is not one.
 */
export const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024;

/** At most 64 KiB, then grows: a small file costs a small buffer, a cap costs at most cap + 1. */
const FIRST_READ = 64 * 1024;

/** The bytes of `file`, or FileTooLargeError if it is (or grows while read) over `maxBytes`. */
export async function readFileBounded(file: string, maxBytes: number): Promise<Uint8Array> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
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
export function readFileBoundedSync(file: string, maxBytes: number): Uint8Array {
  const fd = fs.openSync(file, "r");
  try {
    const { size } = fs.fstatSync(fd);
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
export async function readTextFileBounded(file: string, maxBytes: number): Promise<string> {
  return Buffer.from(await readFileBounded(file, maxBytes)).toString("utf8");
}

/** The file as UTF-8 text, read through readFileBoundedSync(). */
export function readTextFileBoundedSync(file: string, maxBytes: number): string {
  return Buffer.from(readFileBoundedSync(file, maxBytes)).toString("utf8");
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
