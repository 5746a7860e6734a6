// What the runner's log keeps of a worker's long stray line must not depend on how a pipe happened
// to chunk it. A process worker's stderr arrives in reads whose sizes depend on timing: a reader
// stalled while the plugin wrote reads the whole line at once. The cutter used to pass on what
// it held plus the line's end as one line of any length, so the record (first 4096 characters)
// lost the line's end: the flaky skip of secret-stream-cuts.test.ts.

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { StrayOutput } from "../../src/plugins/stray-output.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";
import { hasLoneSurrogate } from "../../src/util/well-formed.ts";

const SECRET = "cnry-cut-7Hq2Lx9Vb3Kd-Wm4Pz8Rt";
const KIB = 1024;

/** The line secret-stream-cuts.test.ts writes: `at - 12` x's, the secret, 100 y's, a line end. */
const lineAt = (at: number) => "x".repeat(at - 12) + SECRET + "y".repeat(100) + "\n";

/** The stray lines logged for `text` written in pieces of these sizes (the last size repeats). */
function logged(text: string, sizes: number[]): string[] {
  const scope = new RedactionScope();
  scope.add(SECRET);
  const { logger, records } = memoryLogger();
  const stray = new StrayOutput("fd2@1.0.0", logger, () => scope);
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)]!;
    stray.write("process stderr", text.slice(at, at + size));
    at += size;
  }
  stray.write("process stderr", "", true);
  return records.map((record) => String(record.line));
}

test("StrayOutput logs a line longer than 64 KiB the same however its text was chunked, its end included", () => {
  for (const at of [64 * KIB, 128 * KIB]) {
    const text = lineAt(at);
    const written = at + 8;
    const chunkings = [
      [written, text.length - written], // each write read on its own (a reader keeping up)
      [text.length], // both writes in one read (a reader stalled while the plugin wrote)
      [64 * KIB], // the pipe's capacity at a time
      [4 * KIB], // a page at a time
      [64 * KIB, 32 * KIB, written - 96 * KIB, text.length - written],
      [written - 5, 5 + 40, text.length], // the secret split across three reads
    ];
    const expected = logged(text, chunkings[0]!);
    expect(expected.at(-1)).toBe("[REDACTED]" + "y".repeat(100));
    expect(expected.every((line) => line.length <= 4096)).toBe(true);
    for (const sizes of chunkings) expect({ at, sizes, lines: logged(text, sizes) }).toEqual({ at, sizes, lines: expected });
  }
});

test("StrayOutput passes on a line of 64 KiB and one character in two pieces, with or without its line end", () => {
  const text = "a".repeat(64 * KIB) + "b";
  expect(logged(text + "\n", [text.length + 1]).map((line) => line.length)).toEqual([4096, 1]);
  expect(logged(text, [text.length])).toEqual(logged(text + "\n", [1024]));
});

test("a record that keeps the first 4096 characters of a longer stray line says how many it left out", () => {
  const { logger, records } = memoryLogger();
  const stray = new StrayOutput("long@1.0.0", logger, () => new RedactionScope());
  stray.write("stderr", `${"a".repeat(10_000)}\nshort line\n`);
  expect(records.map((r) => [String(r.line).length, r.omittedChars])).toEqual([[4096, 10_000 - 4096], [10, undefined]]);
});

test("a record cut at 4096 UTF-16 units never keeps half of a surrogate pair", () => {
  const { logger, records } = memoryLogger();
  const stray = new StrayOutput("emoji@1.0.0", logger, () => new RedactionScope());
  stray.write("stderr", `${"a".repeat(4095)}\u{1F600}${"b".repeat(10)}\n`);
  expect(records.map((r) => [String(r.line).length, r.omittedChars])).toEqual([[4095, 12]]);
  expect(hasLoneSurrogate(String(records[0]?.line))).toBe(false);
});
