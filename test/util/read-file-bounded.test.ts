// The bounded reader of the runner's own files: a file over its cap is refused by its size before
// any of it is read (an 8 GiB sparse file costs nothing), and a file that grows while read is cut.

import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileTooLargeError, NotRegularFileError, readFileBounded, readFileBoundedSync, readTextFileBounded, readTextFileBoundedSync } from "../../src/util/read-file-bounded.ts";
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

test("readFileBounded() and readFileBoundedSync() with regularOnly refuse a FIFO at once instead of blocking, and still read a regular file", async () => {
  const dir = mkdtempSync(join(tmp.dir, "fifo-"));
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  const outcome = await Promise.race([
    readFileBounded(fifo, 1024, { regularOnly: true }).then(() => "read", (e: unknown) => (e instanceof NotRegularFileError ? `refused ${e.kind}` : `threw ${String(e)}`)),
    new Promise((r) => setTimeout(r, 3000)).then(() => "still blocked after 3 s"),
  ]);
  expect(outcome).toBe("refused FIFO");
  expect(() => readFileBoundedSync(fifo, 1024, { regularOnly: true })).toThrow(NotRegularFileError);
  expect(() => readFileBoundedSync(dir, 1024, { regularOnly: true })).toThrow("is a directory, not a regular file");
  writeFileSync(join(dir, "plain"), "text");
  expect(await readTextFileBounded(join(dir, "plain"), 1024, { regularOnly: true })).toBe("text");
});

test("readFileBounded() with noFollow refuses a symlink at the path (ELOOP); without it the link is followed", async () => {
  const dir = mkdtempSync(join(tmp.dir, "link-"));
  writeFileSync(join(dir, "target"), "secret");
  symlinkSync(join(dir, "target"), join(dir, "link"));
  expect(await readFileBounded(join(dir, "link"), 1024, { regularOnly: true, noFollow: true }).then(() => "read", (e: { code?: string }) => e.code)).toBe("ELOOP");
  expect(await readTextFileBounded(join(dir, "link"), 1024, { regularOnly: true })).toBe("secret");
});
