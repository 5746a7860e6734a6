// Files far larger than any cap, made sparse (no disk used), for the tests of bounded reads and of
// files read a line at a time (one huge line), and the error a synchronous call throws, for
// asserting on its fields.

import { appendFileSync, chmodSync, closeSync, openSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

export const GIB8 = 8 * 1024 ** 3;

/** `dir/name`, mode 0600, `bytes` long (8 GiB unless told) and sparse. */
export function hugeFile(dir: string, name: string, bytes = GIB8): string {
  const file = join(dir, name);
  writeFileSync(file, "", { mode: 0o600 });
  chmodSync(file, 0o600);
  truncateSync(file, bytes);
  return file;
}

/**
 * hugeFile() starting with `head` and ending with `tail`: for a file of lines, one line of about
 * `bytes` between them (or, without a newline in `tail`, a torn last line that long).
 */
export function hugeLine(dir: string, name: string, head: string, tail: string, bytes = GIB8): string {
  const file = hugeFile(dir, name, bytes);
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, head, 0);
  } finally {
    closeSync(fd);
  }
  appendFileSync(file, tail);
  return file;
}

/**
 * `dir/name`: `head`, one line of `bytes` "x" (not zeros: a journal's data ends at its first zero
 * byte), then `tail`. Written, not sparse: keep `bytes` to tens of MiB.
 */
export function longLine(dir: string, name: string, head: string, tail: string, bytes: number): string {
  const file = join(dir, name);
  writeFileSync(file, head, { mode: 0o600 });
  const chunk = Buffer.alloc(1024 * 1024, "x");
  for (let left = bytes; left > 0; left -= chunk.length) appendFileSync(file, left >= chunk.length ? chunk : chunk.subarray(0, left));
  appendFileSync(file, tail);
  return file;
}

/** What `run` throws; fails the test if it returns. */
export function thrown(run: () => unknown): { code?: unknown; field?: unknown; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: unknown; field?: unknown; message: string };
  }
  throw new Error("it did not throw");
}
