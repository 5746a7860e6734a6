import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { GroupCommit, SYNCHRONOUS } from "../../src/reference-controller/group-commit.ts";
import { JobLogs, type JobEvent } from "../../src/reference-controller/job-logs.ts";
import { FakeRunner, makeController, tempDir } from "./helpers.ts";
import { journalText } from "../helpers/journal-text.ts";

const log = (seq: number, msg: string, attempt = 1, attemptSeq = seq): JobEvent =>
  ({ seq, attempt, attemptSeq, type: "log", lines: [{ ts: 1, level: "info", msg }] });

function open(dir: string, extra: { segmentBytes?: number; legacyDir?: string } = {}) {
  const { logger, records } = memoryLogger();
  const commits = new GroupCommit({ logger, ...SYNCHRONOUS });
  const logs = new JobLogs({ dir: path.join(dir, "events"), logger, commits, ...extra });
  return { logs, commits, records };
}

test("JobLogs rebuilds its index after a restart: reads, pages and cursors survive", () => {
  const dir = tempDir();
  const a = open(dir);
  a.logs.append("j1", [log(1, "one")]);
  a.logs.append("j2", [log(1, "other job")]);
  a.logs.append("j1", [log(2, "two"), log(3, "retry one", 2, 1)]);
  a.commits.close();

  const b = open(dir);
  expect(b.logs.read("j1", 0, 10).map((e) => e.type === "log" && e.lines[0]?.msg)).toEqual(["one", "two", "retry one"]);
  expect(b.logs.read("j1", 1, 1)).toEqual([log(2, "two")]);
  expect(b.logs.read("j2", 0, 10)).toEqual([log(1, "other job")]);
  expect(b.logs.cursor("j1", 2)).toEqual({ count: 3, attempt: 2, highestSeq: 1 });
  expect(b.logs.cursor("j1", 3)).toEqual({ count: 3, attempt: 3, highestSeq: 0 });
  expect(b.logs.cursor("never", 1)).toEqual({ count: 0, attempt: 1, highestSeq: 0 });
  b.commits.close();
});

test("JobLogs skips a torn last line with a warning, cuts it, and appends cleanly after it", () => {
  const dir = tempDir();
  const a = open(dir);
  a.logs.append("j1", [log(1, "whole")]);
  a.commits.close();
  fs.appendFileSync(path.join(dir, "events", "000001.jsonl"), '{"jobId":"j1","seq":2,"attempt":1,"attem');

  const b = open(dir);
  expect(b.records.some((r) => r.level === "warn" && r.msg.includes("torn last line"))).toBe(true);
  expect(b.logs.cursor("j1", 1)).toEqual({ count: 1, attempt: 1, highestSeq: 1 });
  b.logs.append("j1", [log(2, "after the tear")]);
  b.commits.close();

  const c = open(dir);
  expect(c.logs.read("j1", 0, 10).map((e) => e.seq)).toEqual([1, 2]);
  expect(c.records.filter((r) => r.level !== "debug")).toEqual([]);
  c.commits.close();
});

test("JobLogs.append() refuses an event that is not the job's next seq", () => {
  const { logs, commits } = open(tempDir());
  logs.append("j1", [log(1, "one")]);
  expect(() => logs.append("j1", [log(3, "gap")])).toThrow('Cannot store event 3 of job "j1": expected seq 2');
  commits.close();
});

test("JobLogs starts new segments and deletes one once all its jobs are dropped", () => {
  const dir = tempDir();
  const { logs, commits } = open(dir, { segmentBytes: 150 });
  for (let i = 1; i <= 6; i++) logs.append(`j${i}`, [log(1, `job ${i} says hello`)]);
  const files = () => fs.readdirSync(path.join(dir, "events")).sort();
  expect(files().length).toBeGreaterThan(2);
  const first = files()[0] as string;
  const inFirst = journalText(path.join(dir, "events", first)).split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { jobId: string }).jobId);
  logs.drop(inFirst.slice(0, -1));
  expect(files()).toContain(first);
  logs.drop(inFirst.slice(-1));
  expect(files()).not.toContain(first);
  expect(logs.read(inFirst[0] as string, 0, 10)).toEqual([]);
  expect(logs.read("j6", 0, 10)).toHaveLength(1);
  commits.close();
});

test("JobLogs moves per-job files of earlier versions into the journal, once", () => {
  const dir = tempDir();
  const legacyDir = path.join(dir, "logs");
  fs.mkdirSync(legacyDir);
  fs.writeFileSync(path.join(legacyDir, "job_old.jsonl"), [log(1, "old one"), log(2, "old two")].map((e) => JSON.stringify(e)).join("\n") + "\n");
  const a = open(dir, { legacyDir });
  expect(a.logs.read("job_old", 0, 10).map((e) => e.seq)).toEqual([1, 2]);
  expect(fs.existsSync(legacyDir)).toBe(false);
  a.commits.close();
  const b = open(dir, { legacyDir });
  expect(b.logs.read("job_old", 0, 10)).toEqual([log(1, "old one"), log(2, "old two")]);
  b.commits.close();
});

test("ControllerCore.dispatch() and the event path never read the event files (no cursor read per lease)", async () => {
  const h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  // Unlinked files: any read by path would fail; the open descriptors still take appends.
  for (const name of fs.readdirSync(path.join(h.dataDir, "controller", "events"))) fs.rmSync(path.join(h.dataDir, "controller", "events", name));
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "hi" }] });
  r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 1, status: "succeeded", startedAt: 1, finishedAt: 2 });
  expect(r.last("ack").seq).toBe(1);
  expect(r.last("result_ack").accepted).toBe(true);
  expect(h.records.filter((x) => x.level === "error" || x.level === "warn")).toEqual([]);
  await h.controller.close();
});
