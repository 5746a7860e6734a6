// The bounded reader of the runner's own files: a file over its cap is refused by its size before
// any of it is read (an 8 GiB sparse file costs nothing), and a file that grows while read is cut.

import { afterAll, expect, test } from "bun:test";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileTooLargeError, readFileBounded, readFileBoundedSync, readTextFileBounded, readTextFileBoundedSync } from "../../src/util/read-file-bounded.ts";
import { tempDir } from "../helpers/harness.ts";

const tmp = tempDir("read-file-bounded-");
afterAll(tmp.remove);
const GIB8 = 8 * 1024 ** 3;

test("readFileBounded() and readFileBoundedSync() read a file at or under the cap whole", async () => {
  const file = join(tmp.dir, "small");
  writeFileSync(file, "x".repeat(200_000));
  expect((await readFileBounded(file, 200_000)).byteLength).toBe(200_000);
  expect(readFileBoundedSync(file, 200_000).byteLength).toBe(200_000);
  expect(await readTextFileBounded(file, 1_000_000)).toBe("x".repeat(200_000));
  const empty = join(tmp.dir, "empty");
  writeFileSync(empty, "");
  expect(readTextFileBoundedSync(empty, 10)).toBe("");
});

test("readFileBounded() refuses an 8 GiB sparse file by its size, naming the file, its size and the cap", async () => {
  const file = join(tmp.dir, "huge");
  writeFileSync(file, "");
  truncateSync(file, GIB8);
  const message = `The file "${file}" is ${GIB8} bytes, over the cap of 65536 bytes for it; not read`;
  const error = await readFileBounded(file, 65536).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FileTooLargeError);
  expect((error as FileTooLargeError).message).toBe(message);
  expect(() => readFileBoundedSync(file, 65536)).toThrow(message);
});

test("readFileBoundedSync() reads at most cap + 1 bytes of a file fstat says is small (/proc, or grown while read)", () => {
  // /proc/self/status reports size 0 and holds more than 10 bytes.
  expect(() => readFileBoundedSync("/proc/self/status", 10)).toThrow(/is 11 bytes, over the cap of 10 bytes/);
  expect(readTextFileBoundedSync("/proc/self/status", 1 << 20)).toContain("Name:");
});

test("readFileBounded() passes on a missing file's error (ENOENT), so callers keep telling missing from bad", async () => {
  expect(((await readFileBounded(join(tmp.dir, "missing"), 10).catch((e: unknown) => e)) as { code?: string }).code).toBe("ENOENT");
});
