import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { AppendFile } from "../../src/reference-controller/append-file.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import { FakeRunner, makeController, ManualCommits, tempDir, turns, type Harness } from "./helpers.ts";
import { journalText } from "../helpers/journal-text.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

const journalLines = (harness: Harness): number =>
  journalText(path.join(harness.dataDir, "controller", "journal.jsonl")).split("\n").filter(Boolean).length;

test("GroupCommit: many submits in one turn share one fsync, and no offer leaves before it completes", () => {
  const commits = new ManualCommits();
  h = makeController({ commit: commits.options });
  const r = FakeRunner.connect(h.controller, "r1");
  r.send({ type: "credit", slots: 100 });
  commits.settle();
  const before = { ...h.controller.core.store.commits.stats };
  const linesBefore = journalLines(h);

  const ids = Array.from({ length: 50 }, (_, i) => h?.controller.submitJob({ plugin: "echo", input: { i } }).id);
  // 50 jobs queued and leased in memory, one flush scheduled, nothing sent.
  expect(h.controller.getJob(ids[49] as string)?.status).toBe("leased");
  expect(commits.scheduled).toHaveLength(1);
  expect(r.of("offer")).toHaveLength(0);

  commits.flush();
  // Written and one fsync started, for the journal only: one line per job, its lease (the queued
  // record it replaced never reached the disk, and nothing acknowledged it).
  expect(journalLines(h) - linesBefore).toBe(50);
  expect(commits.held).toHaveLength(1);
  expect(r.of("offer")).toHaveLength(0);

  commits.completeFsyncs();
  expect(r.of("offer").map((m) => m.job.id)).toEqual(ids as string[]);
  const after = h.controller.core.store.commits.stats;
  expect(after.flushes - before.flushes).toBe(1);
  expect(after.fsyncs - before.fsyncs).toBe(1);
});

test("GroupCommit: events of many jobs in one turn share the batch; acks and result_acks wait for it", async () => {
  const commits = new ManualCommits();
  h = makeController({ commit: commits.options });
  const r = FakeRunner.connect(h.controller, "r1");
  r.send({ type: "credit", slots: 10 });
  const jobs = Array.from({ length: 5 }, () => h?.controller.submitJob({ plugin: "echo" }).id as string);
  commits.settle();
  expect(r.of("offer")).toHaveLength(5);

  for (const id of jobs) {
    r.send({ type: "accept", jobId: id, attempt: 1 });
    r.send({ type: "log", jobId: id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: `hello ${id}` }] });
    r.send({ type: "step", jobId: id, attempt: 1, seq: 2, step: { id: "s", status: "succeeded" } });
  }
  expect(r.of("ack")).toHaveLength(0);
  commits.flush();
  // One batch: the journal (accepts) and the event segment, one fsync each.
  expect(commits.held).toHaveLength(2);
  expect(r.of("ack")).toHaveLength(0);
  commits.completeFsyncs();
  expect(r.of("ack")).toHaveLength(10);

  for (const id of jobs) r.send({ type: "result", jobId: id, attempt: 1, lastSeq: 2, status: "succeeded", startedAt: 1, finishedAt: 2 });
  expect(r.of("result_ack")).toHaveLength(0);
  commits.settle();
  expect(r.of("result_ack").every((a) => a.accepted)).toBe(true);
  expect(r.of("result_ack")).toHaveLength(5);
  expect((await h.controller.core.logs.read(jobs[0] as string, 0, 10)).map((e) => e.type)).toEqual(["log", "step"]);
});

test("GroupCommit: the admin API answers a submit only after its fsync", async () => {
  const commits = new ManualCommits();
  h = makeController({ commit: commits.options });
  let settled = false;
  const answer = Promise.resolve(h.controller.app.request("/api/v1/jobs", { method: "POST", headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body: JSON.stringify({ plugin: "echo" }) }))
    .then((res) => {
      settled = true;
      return res;
    });
  for (let i = 0; i < 20 && commits.scheduled.length === 0; i++) await turns(1);
  commits.flush();
  await turns();
  expect(commits.held).toHaveLength(1);
  expect(settled).toBe(false);
  commits.completeFsyncs();
  const res = await answer;
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: string };
  // On disk before the answer: a fresh reader of the journal sees it.
  expect(journalText(path.join(h.dataDir, "controller", "journal.jsonl"))).toContain(body.id);
});

test("GroupCommit: a failed fsync acknowledges nothing, refuses every later change, and health says failed", async () => {
  const commits = new ManualCommits();
  h = makeController({ commit: commits.options });
  const r = FakeRunner.connect(h.controller, "r1");
  r.send({ type: "credit", slots: 1 });
  const job = h.controller.submitJob({ plugin: "echo" });
  commits.flush();
  commits.completeFsyncs(new Error("EIO: i/o error, fsync"));
  expect(r.of("offer")).toHaveLength(0);
  expect(r.closedWith).toBe(1011);
  expect(() => h?.controller.submitJob({ plugin: "echo" })).toThrow(/store is refusing changes because it cannot be written \(EIO: i\/o error, fsync\)/);
  await expect(h.controller.waitForJob(job.id, 10)).rejects.toThrow("EIO");
  const health = await h.controller.app.request("/api/v1/health");
  expect(health.status).toBe(503);
  expect(await health.json()).toMatchObject({ status: "failed", reason: expect.stringContaining("EIO: i/o error, fsync") });
  expect(h.records.some((x) => x.level === "error" && x.msg.includes("refusing every change"))).toBe(true);
});

test("GroupCommit.afterDurable() runs at once when idle, else in call order after the batch", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const file = new AppendFile(path.join(dir, "f.jsonl"));
  commits.track(file);
  const order: string[] = [];
  commits.afterDurable(() => order.push("idle"));
  expect(order).toEqual(["idle"]);
  file.append("a\n");
  commits.appended();
  commits.afterDurable(() => order.push("first"));
  manual.flush();
  // Appended while the fsync runs: needs the next batch, and must not overtake "first".
  file.append("b\n");
  commits.appended();
  commits.afterDurable(() => order.push("second"));
  manual.completeFsyncs();
  expect(order).toEqual(["idle", "first"]);
  expect(manual.scheduled).toHaveLength(1);
  manual.settle();
  expect(order).toEqual(["idle", "first", "second"]);
  expect(journalText(file.path)).toBe("a\nb\n");
  commits.close();
});

/** A GroupCommit over one file, batches flushed and thread-pool fsyncs completed by hand, `fsyncHere` given. */
function onThisThread(fsyncHere: (fd: number) => void, quiet: () => boolean) {
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options, fsyncHere, loneAppends: 2 });
  commits.fsyncHereWhen(quiet);
  const file = new AppendFile(path.join(tempDir(), "f.jsonl"));
  commits.track(file);
  const order: string[] = [];
  const change = (name: string) => {
    file.append(`${name}\n`);
    commits.appended();
    commits.afterDurable(() => order.push(name), (error) => order.push(`failed: ${error.message}`));
  };
  return { manual, commits, file, order, change };
}

test("GroupCommit: a small batch while the controller is quiet is fsync'd on this thread; a busy one or a large one goes to the thread pool", async () => {
  const here: number[] = [];
  let quiet = true;
  const { manual, commits, file, order, change } = onThisThread((fd) => void here.push(fd), () => quiet);
  // Quiet: written, fsync'd on this thread, acknowledged within the flush, no thread-pool fsync.
  change("lone");
  await Promise.resolve();
  expect({ order, here: here.length, pool: manual.held.length, quiet: commits.stats.quietBatches }).toEqual({ order: ["lone"], here: 1, pool: 0, quiet: 1 });
  // Busy: the next batch waits for the thread pool's fsync.
  quiet = false;
  change("busy");
  manual.flush();
  expect({ order, here: here.length, pool: manual.held.length }).toEqual({ order: ["lone"], here: 1, pool: 1 });
  manual.completeFsyncs();
  expect(order).toEqual(["lone", "busy"]);
  // Quiet again, but more than loneAppends changes: not small, the thread pool.
  quiet = true;
  for (const name of ["b1", "b2", "b3"]) change(name);
  await Promise.resolve();
  expect({ here: here.length, pool: manual.held.length }).toEqual({ here: 1, pool: 1 });
  manual.completeFsyncs();
  expect(order).toEqual(["lone", "busy", "b1", "b2", "b3"]);
  expect(journalText(file.path)).toBe("lone\nbusy\nb1\nb2\nb3\n");
  commits.close();
});

test("GroupCommit: while the controller is quiet, a batch is written at the end of the task, not on the loop's next turn", async () => {
  const { manual, commits, order, change } = onThisThread(() => undefined, () => true);
  change("a");
  change("b");
  expect(order).toEqual([]);
  await Promise.resolve();
  expect({ order, scheduled: manual.scheduled.length, quiet: commits.stats.quietBatches }).toEqual({ order: ["a", "b"], scheduled: 0, quiet: 1 });
  commits.close();
});

test("GroupCommit: a store with a database sink keeps its batches to the end of the turn, quiet or not", async () => {
  const { manual, commits, order, change } = onThisThread(() => undefined, () => true);
  let pending = false;
  commits.trackSink({ takePending: () => { const was = pending; pending = false; return was; }, sync: (done) => done(null) });
  pending = true;
  change("a");
  await Promise.resolve();
  expect({ order, scheduled: manual.scheduled.length }).toEqual({ order: [], scheduled: 1 });
  manual.settle();
  expect(order).toEqual(["a"]);
});

test("GroupCommit: a failed fsync on this thread acknowledges nothing and refuses later changes", async () => {
  const { commits, order, change } = onThisThread(() => { throw new Error("EIO: i/o error"); }, () => true);
  change("a");
  await Promise.resolve();
  expect(order).toEqual(["failed: EIO: i/o error"]);
  expect(() => commits.check("submit a job")).toThrow("EIO");
  commits.close();
});
