// readLinesSync() (src/util/read-lines.ts): a file of lines read a chunk at a time, at most one
// line held and never more than its cap; a longer line passed over, the end without a newline told apart.

import { afterAll, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLinesSync, type LineRead } from "../../src/util/read-lines.ts";
import { tempDir } from "../helpers/harness.ts";
import { hugeLine } from "../helpers/huge-files.ts";

const tmp = tempDir("read-lines-");
afterAll(tmp.remove);

function file(name: string, text: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
}

const all = (path: string, maxLineBytes: number, chunkBytes?: number): LineRead[] =>
  [...readLinesSync(path, chunkBytes === undefined ? { maxLineBytes } : { maxLineBytes, chunkBytes })];

test("readLinesSync() gives each line with its number, byte offset and length (newline counted), across chunk edges", () => {
  const path = file("lines", "one\n\ntwö\nthree\n");
  const expected: LineRead[] = [
    { kind: "line", number: 1, offset: 0, bytes: 4, text: "one" },
    { kind: "line", number: 2, offset: 4, bytes: 1, text: "" },
    { kind: "line", number: 3, offset: 5, bytes: 5, text: "twö" },
    { kind: "line", number: 4, offset: 10, bytes: 6, text: "three" },
  ];
  expect(all(path, 100)).toEqual(expected);
  // One byte a read: every line and a two-byte character cut across reads.
  expect(all(path, 100, 1)).toEqual(expected);
  expect(all(path, 100, 3)).toEqual(expected);
});

test("readLinesSync() passes over a line longer than the cap, keeping none of it, and goes on after it", () => {
  const path = file("long", `short\n${"x".repeat(11)}\nafter\n${"y".repeat(10)}\n`);
  for (const chunkBytes of [1, 4, 1024]) {
    expect(all(path, 10, chunkBytes)).toEqual([
      { kind: "line", number: 1, offset: 0, bytes: 6, text: "short" },
      { kind: "too_long", number: 2, offset: 6, bytes: 12 },
      { kind: "line", number: 3, offset: 18, bytes: 6, text: "after" },
      { kind: "line", number: 4, offset: 24, bytes: 11, text: "y".repeat(10) },
    ]);
  }
});

test("readLinesSync() tells the bytes after the last newline apart as torn, short or over the cap", () => {
  expect(all(file("torn", "whole\nhal"), 10)).toEqual([
    { kind: "line", number: 1, offset: 0, bytes: 6, text: "whole" },
    { kind: "torn", number: 2, offset: 6, bytes: 3 },
  ]);
  expect(all(file("torn-long", `whole\n${"z".repeat(50)}`), 10, 7).at(-1)).toEqual({ kind: "torn", number: 2, offset: 6, bytes: 50 });
  expect(all(file("empty", ""), 10)).toEqual([]);
});

test("readLinesSync() reads a 256 MiB (sparse) line between two lines a chunk at a time, holding none of it", () => {
  const bytes = 256 * 1024 * 1024;
  const path = hugeLine(tmp.dir, "huge-line", "first\n", "\nlast\n", bytes);
  const heap = process.memoryUsage().rss;
  expect(all(path, 1024 * 1024)).toEqual([
    { kind: "line", number: 1, offset: 0, bytes: 6, text: "first" },
    { kind: "too_long", number: 2, offset: 6, bytes: bytes - 6 + 1 },
    { kind: "line", number: 3, offset: bytes + 1, bytes: 5, text: "last" },
  ]);
  // One chunk and at most the cap of one line were held, never the line.
  expect(process.memoryUsage().rss - heap).toBeLessThan(64 * 1024 * 1024);
});

test("readLinesSync() closes the file when the loop breaks early", () => {
  const path = file("early", "a\nb\nc\n");
  const open = (): number => readdirSync("/proc/self/fd").length;
  const before = open();
  for (const line of readLinesSync(path, { maxLineBytes: 10 })) {
    expect(line).toMatchObject({ text: "a" });
    expect(open()).toBe(before + 1);
    break;
  }
  expect(open()).toBe(before);
});
