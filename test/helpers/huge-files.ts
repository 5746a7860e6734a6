// Files far larger than any cap, made sparse (no disk used), for the tests of bounded reads, and
// the error a synchronous call throws, for asserting on its fields.

import { chmodSync, truncateSync, writeFileSync } from "node:fs";
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

/** What `run` throws; fails the test if it returns. */
export function thrown(run: () => unknown): { code?: unknown; field?: unknown; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: unknown; field?: unknown; message: string };
  }
  throw new Error("it did not throw");
}
