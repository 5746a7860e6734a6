// The controller's journal files grow ahead of their data in zeros, so that most batches' fdatasync
// commits no file system metadata (append-file.ts, docs/performance.md "sixth round"). What that
// must not cost: a record lost, a record replayed that was never acknowledged, a warning on every
// start, or zeros left behind by a controller that stopped.

import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { AppendFile, PREALLOCATE_BYTES } from "../../src/reference-controller/append-file.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { readLinesSync } from "../../src/util/read-lines.ts";
import { journalText } from "../helpers/journal-text.ts";
import { tempDir } from "./helpers.ts";

const job = (id: string, queueSeq: number): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});
const jobLine = (id: string, queueSeq: number): string => `${JSON.stringify({ t: "job", job: job(id, queueSeq) })}\n`;

test("AppendFile writes at the end of its data and grows the file in zeros a step ahead of it; closing cuts the zeros", () => {
  const file = path.join(tempDir(), "journal.jsonl");
  const out = new AppendFile(file);
  expect(out.append("a\n")).toBe(0);
  out.writePending();
  expect(fs.statSync(file).size).toBe(2 + PREALLOCATE_BYTES);
  expect(out.append("bc\n")).toBe(2);
  out.writePending();
  // Within the zeros written ahead: the file does not grow, the data goes where they were.
  expect(fs.statSync(file).size).toBe(2 + PREALLOCATE_BYTES);
  expect(journalText(file)).toBe("a\nbc\n");
  expect(out.read(2, 3).toString()).toBe("bc\n");
  const big = `${"x".repeat(PREALLOCATE_BYTES)}\n`;
  out.append(big);
  out.writePending();
  expect(fs.statSync(file).size).toBe(5 + big.length + PREALLOCATE_BYTES);
  out.close();
  expect(fs.readFileSync(file, "utf8")).toBe(`a\nbc\n${big}`);
});

test("A controller that crashed leaves its journal's zeros: the next start replays every record without a warning, cuts the zeros, and appends after the data", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const a = ControllerStore.open({ dir, logger });
  a.putJobs([job("j1", 1), job("j2", 2)]);
  // A crash: the files as they are on disk while the controller runs, never closed.
  const crashed = tempDir();
  fs.copyFileSync(path.join(dir, "journal.jsonl"), path.join(crashed, "journal.jsonl"));
  a.close();
  const data = journalText(path.join(crashed, "journal.jsonl"));
  expect(fs.statSync(path.join(crashed, "journal.jsonl")).size).toBeGreaterThan(data.length);
  const after = memoryLogger();
  const b = ControllerStore.open({ dir: crashed, logger: after.logger });
  expect([...b.jobs.keys()].sort()).toEqual(["j1", "j2"]);
  expect(after.records.filter((r) => r.level === "warn" || r.level === "error")).toEqual([]);
  b.putJobs([job("j3", 3)]);
  b.close();
  expect(fs.readFileSync(path.join(crashed, "journal.jsonl"), "utf8").startsWith(data)).toBe(true);
  const c = ControllerStore.open({ dir: crashed, logger: after.logger });
  expect([...c.jobs.keys()].sort()).toEqual(["j1", "j2", "j3"]);
  c.close();
});

test("Records past the zeros (a batch never acknowledged, written back in part before a crash) are never replayed: dropped with a warning that counts them, and cut so later appends cannot join them", () => {
  const dir = tempDir();
  const file = path.join(dir, "journal.jsonl");
  // j1 acknowledged; a later batch (j2, j3) whose second page reached the disk but whose first did not.
  fs.writeFileSync(file, Buffer.concat([Buffer.from(jobLine("j1", 1)), Buffer.alloc(4096), Buffer.from(jobLine("j3", 3)), Buffer.alloc(1000)]));
  const { logger, records } = memoryLogger();
  const store = ControllerStore.open({ dir, logger });
  expect([...store.jobs.keys()]).toEqual(["j1"]);
  expect(records.find((r) => r.level === "warn")).toMatchObject({
    msg: "Dropping what follows the end of the data in a journal file (a write never acknowledged, kept in part by a crash)",
    file, bytes: 4096 + jobLine("j3", 3).length + 1000, nonZeroBytes: jobLine("j3", 3).length,
  });
  expect(fs.statSync(file).size).toBe(jobLine("j1", 1).length);
  store.putJobs([job("j4", 4)]);
  store.close();
  const again = ControllerStore.open({ dir, logger });
  expect([...again.jobs.keys()].sort()).toEqual(["j1", "j4"]);
  again.close();
});

test("readLinesSync() with zeroEndsData: the first zero byte ends the data; text before it on its line is a torn line; the rest is one zeros record counting what is not zero", () => {
  const file = path.join(tempDir(), "lines");
  fs.writeFileSync(file, Buffer.concat([Buffer.from("one\ntw"), Buffer.alloc(10), Buffer.from("x\ny"), Buffer.alloc(5)]));
  const read = [...readLinesSync(file, { maxLineBytes: 100, zeroEndsData: true, chunkBytes: 4 })];
  expect(read).toEqual([
    { kind: "line", number: 1, offset: 0, bytes: 4, text: "one" },
    { kind: "torn", number: 2, offset: 4, bytes: 2 },
    { kind: "zeros", offset: 6, bytes: 18, nonZero: 3 },
  ]);
  // Without the option a zero byte is a byte of its line, as before.
  expect([...readLinesSync(file, { maxLineBytes: 100 })].map((l) => l.kind)).toEqual(["line", "line", "torn"]);
  fs.writeFileSync(file, Buffer.concat([Buffer.from("one\n"), Buffer.alloc(7)]));
  expect([...readLinesSync(file, { maxLineBytes: 100, zeroEndsData: true, chunkBytes: 3 })]).toEqual([
    { kind: "line", number: 1, offset: 0, bytes: 4, text: "one" },
    { kind: "zeros", offset: 4, bytes: 7, nonZero: 0 },
  ]);
});
