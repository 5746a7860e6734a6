// The controller's journal files grow ahead of their data in zeros, so that most batches' fdatasync
// commits no file system metadata (append-file.ts, docs/performance.md "sixth round"). What that
// must not cost: a record lost, a record replayed that was never acknowledged, a warning on every
// start, or zeros left behind by a controller that stopped.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { AppendFile, PREALLOCATE_BYTES } from "../../src/reference-controller/append-file.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { readLinesSync } from "../../src/util/read-lines.ts";
import { journalText } from "../helpers/journal-text.ts";
import { Tmpfs, tmpfsUnavailable } from "../helpers/tmpfs.ts";
import { GroupCommit, SYNCHRONOUS } from "../../src/reference-controller/group-commit.ts";
import { JobLogs, type JobEvent } from "../../src/reference-controller/job-logs.ts";
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

test("Records past the zeros (a batch never acknowledged, written back in part before a crash) are never replayed: the file is kept beside it, a warning counts them, and the journal is cut so later appends cannot join them", () => {
  const dir = tempDir();
  const file = path.join(dir, "journal.jsonl");
  // j1 acknowledged; a later batch (j2, j3) whose second page reached the disk but whose first did not.
  fs.writeFileSync(file, Buffer.concat([Buffer.from(jobLine("j1", 1)), Buffer.alloc(4096), Buffer.from(jobLine("j3", 3)), Buffer.alloc(1000)]));
  const { logger, records } = memoryLogger();
  const store = ControllerStore.open({ dir, logger });
  expect([...store.jobs.keys()]).toEqual(["j1"]);
  const warning = records.find((r) => r.level === "warn");
  expect(warning).toMatchObject({
    msg: "Not replaying what follows the end of the data in a journal file (a write never acknowledged, kept in part by a crash); the whole file is kept beside it",
    file, bytes: 4096 + jobLine("j3", 3).length + 1000, nonZeroBytes: jobLine("j3", 3).length,
  });
  // Nothing destroyed: a file an earlier version wrote could hold acknowledged records there.
  expect(fs.readFileSync(warning!.kept as string, "utf8")).toContain('"j3"');
  expect(path.dirname(warning!.kept as string)).toBe(dir);
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

// Found by a review of the change (1da8b8d): each failed before its fix.
const skip = tmpfsUnavailable();
let disk: Tmpfs | undefined;
afterEach(() => {
  disk?.unmount();
  disk = undefined;
});
const event = (seq: number, msg: string): JobEvent => ({ seq, attempt: 1, attemptSeq: seq, type: "log", lines: [{ ts: 1, level: "info", msg }] });

test.skipIf(skip !== undefined)("A write that fails while a log page is read (it writes the pending events it reaches first) fails the store: the events it could not write are never acknowledged", () => {
  disk = Tmpfs.mount(3 * 1024 * 1024);
  const dir = path.join(disk.dir, "events");
  const { logger } = memoryLogger();
  const queue: Array<() => void> = [];
  const commits = new GroupCommit({ logger, schedule: (flush) => queue.push(flush), fsync: SYNCHRONOUS.fsync });
  const settle = () => { while (queue.length > 0) queue.shift()!(); };
  const logs = new JobLogs({ dir, logger, commits });
  const acked: number[] = [];
  logs.append("j", [event(1, "one")]);
  commits.afterDurable(() => acked.push(1));
  settle();
  disk.fill();
  const big = "x".repeat(512 * 1024);
  logs.append("j", [event(2, big), event(3, big), event(4, big)]);
  commits.afterDurable(() => acked.push(2, 3, 4), () => {});
  // Event 1 is on disk: read without a write. Event 2 is buffered: the read writes it, and fails.
  expect(logs.read("j", 0, 1)).toHaveLength(1);
  expect(() => logs.read("j", 1, 1)).toThrow(/ENOSPC/);
  disk.free();
  settle();
  expect(acked).toEqual([1]);
  expect(commits.failure?.message).toContain("ENOSPC");
  commits.close();
  const again = new JobLogs({ dir, logger, commits: new GroupCommit({ logger, ...SYNCHRONOUS }) });
  expect(again.cursor("j", 1).count).toBe(1);
});

test.skipIf(skip !== undefined)("A batch refused on a full disk (no room for the zeros ahead) is not in the journal after the restart", async () => {
  disk = Tmpfs.mount(4 * 1024 * 1024);
  const dir = path.join(disk.dir, "data");
  const { logger } = memoryLogger();
  const store = ControllerStore.open({ dir, logger, compactAfter: 1e9 });
  const blob = { input: { blob: "b".repeat(20_000) } };
  store.putJobs([{ ...job("first", 1), ...blob }]);
  disk.fill(100 * 1024);
  let refused: string | undefined;
  for (let i = 2; i < 200 && refused === undefined; i++) {
    try {
      store.putJobs([{ ...job(`j${i}`, i), ...blob }]);
      await store.commits.durable();
    } catch {
      refused = `j${i}`;
    }
  }
  expect(refused).toBeDefined();
  try {
    store.close();
  } catch {
    // The failed store's close may throw its failure again.
  }
  disk.free();
  const again = ControllerStore.open({ dir, logger });
  expect(again.jobs.has("first")).toBe(true);
  expect(again.jobs.has(refused!)).toBe(false);
  again.close();
});

test("readLinesSync() with zeroEndsData searches for the zero once per chunk read, not once per line (a search per line scanned the rest of its 1 MiB chunk: quadratic)", () => {
  const file = path.join(tempDir(), "lines");
  fs.writeFileSync(file, `${"y".repeat(99)}\n`.repeat(160_000));
  const indexOf = Buffer.prototype.indexOf;
  let zeroSearches = 0;
  Buffer.prototype.indexOf = function (this: Buffer, ...args: Parameters<Buffer["indexOf"]>) {
    if (args[0] === 0) zeroSearches++;
    return indexOf.apply(this, args);
  } as Buffer["indexOf"];
  let lines = 0;
  try {
    for (const line of readLinesSync(file, { maxLineBytes: 1 << 20, zeroEndsData: true })) if (line.kind === "line") lines++;
  } finally {
    Buffer.prototype.indexOf = indexOf;
  }
  expect(lines).toBe(160_000);
  // 16 MB in 1 MiB chunks: 16 reads (before the fix: 160,000 searches).
  expect(zeroSearches).toBeLessThanOrEqual(20);
});

test("An event segment the journal moved on from keeps no zeros ahead of its data (eventJournalMaxBytes counts data)", () => {
  const dir = path.join(tempDir(), "events");
  const { logger } = memoryLogger();
  const commits = new GroupCommit({ logger, ...SYNCHRONOUS });
  const logs = new JobLogs({ dir, logger, commits, segmentBytes: 200 });
  for (let seq = 1; seq <= 6; seq++) logs.append("j", [event(seq, `line ${seq}`)]);
  const files = fs.readdirSync(dir).sort();
  expect(files.length).toBeGreaterThan(2);
  for (const name of files.slice(0, -1)) expect(fs.statSync(path.join(dir, name)).size).toBe(journalText(path.join(dir, name)).length);
  // The open one still grows ahead.
  expect(fs.statSync(path.join(dir, files.at(-1)!)).size).toBeGreaterThan(PREALLOCATE_BYTES);
  commits.close();
});
