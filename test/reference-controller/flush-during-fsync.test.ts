// A batch's fsync still running on the thread pool, and a change made during it. Until
// 2026-12-02 flushSync() (registerRunner(), cancelJob(), compaction, close) synced the files
// there and acknowledged the change at once: when the pool's fsync then failed, its batch was
// refused but stayed on disk with the change (what a caller was told is durable is never cut),
// so a restart replayed a job submission whose client was told "refused" (docs/reliability.md).
// Now the admin changes await durable(), flushSync() refuses to run during such an fsync, and
// close() waits for its answer. Each test failed before that fix, except the ones named guards.

import { expect, test } from "bun:test";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { AppendFile } from "../../src/reference-controller/append-file.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { makeController, ManualCommits, tempDir, turns } from "./helpers.ts";

const job = (id: string, queueSeq: number): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});
const EIO = () => new Error("EIO: i/o error, fdatasync");

/** Two files; a change to "journal" is out in a thread-pool fsync held by `manual`, one to "segment" is only appended. */
function batchInFlight() {
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const dir = tempDir();
  const journal = new AppendFile(path.join(dir, "journal.jsonl"));
  const segment = new AppendFile(path.join(dir, "segment.jsonl"));
  commits.track(journal);
  commits.track(segment);
  const order: string[] = [];
  const change = (file: AppendFile, name: string) => {
    file.append(`${name}\n`);
    commits.appended();
    commits.afterDurable(() => order.push(name), (error) => order.push(`${name} failed: ${error.message}`));
  };
  change(journal, "in flight");
  manual.flush();
  expect(manual.held).toHaveLength(1);
  change(segment, "after");
  return { manual, commits, journal, segment, order, dir };
}

/** A store whose change to job "a" is out in a thread-pool fsync held by `manual`. */
function storeBatchInFlight() {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const store = ControllerStore.open({ dir, logger, commits, compactAfter: 1 });
  store.putJobs([job("a", 1)]);
  const told = { a: "pending" };
  store.durable().then(() => (told.a = "acknowledged"), () => (told.a = "refused"));
  manual.flush();
  expect(manual.held).toHaveLength(1);
  return { dir, logger, manual, store, told };
}

function replayedJobs(dir: string): string[] {
  const { logger } = memoryLogger();
  const again = ControllerStore.open({ dir, logger });
  const ids = [...again.jobs.keys()].sort();
  void again.close();
  return ids;
}

test("GroupCommit.flushSync() during a batch's thread-pool fsync throws and syncs nothing: that fsync alone answers for its batch", () => {
  const { manual, commits, order } = batchInFlight();
  const before = commits.stats.fsyncs;
  expect(() => commits.flushSync()).toThrow(/while a batch's fsync is running: await durable\(\) instead/);
  expect({ order, fsyncs: commits.stats.fsyncs - before }).toEqual({ order: [], fsyncs: 0 });
  manual.settle();
  expect(order).toEqual(["in flight", "after"]);
  commits.close();
});

test("GroupCommit: a batch's thread-pool fsync that fails refuses it and what was appended during it, and a restart replays neither (a guard)", () => {
  const { manual, commits, journal, segment, order } = batchInFlight();
  manual.completeFsyncs(EIO());
  commits.close();
  expect(order).toEqual(["in flight failed: EIO: i/o error, fdatasync", "after failed: EIO: i/o error, fdatasync"]);
  // Cut back to their last acknowledged batch (none): nothing for a restart to replay.
  expect({ journal: Bun.file(journal.path).size, segment: Bun.file(segment.path).size }).toEqual({ journal: 0, segment: 0 });
});

test("GroupCommit.close() during a batch's thread-pool fsync answers its waiters after that fsync, and closes the file only then (a guard)", () => {
  const { manual, commits, journal, segment, order } = batchInFlight();
  commits.close();
  // The file whose fsync runs keeps its descriptor until that fsync answers.
  expect({ order, journal: journal.closed, segment: segment.closed }).toEqual({ order: [], journal: false, segment: false });
  manual.completeFsyncs();
  expect({ order, journal: journal.closed, segment: segment.closed }).toEqual({ order: ["in flight", "after"], journal: true, segment: true });
});

test("GroupCommit.close() during a batch's thread-pool fsync that then fails: the refused batch and what followed it are cut, not synced for a restart to replay", () => {
  const { manual, commits, journal, segment, order } = batchInFlight();
  commits.close();
  manual.completeFsyncs(EIO());
  // The close finished in the fsync's answer (closed() resolves then).
  expect({ journal: journal.closed, segment: segment.closed }).toEqual({ journal: true, segment: true });
  expect({ order, journal: Bun.file(journal.path).size, segment: Bun.file(segment.path).size }).toEqual({
    order: ["in flight failed: EIO: i/o error, fdatasync", "after failed: EIO: i/o error, fdatasync"],
    journal: 0,
    segment: 0,
  });
});

test("ControllerStore.compact() during a batch's thread-pool fsync throws; the background compaction waits for a batch with none in flight", async () => {
  const { dir, manual, store, told } = storeBatchInFlight();
  expect(() => store.compact()).toThrow(/while a batch's fsync is running/);
  manual.completeFsyncs();
  await turns(1);
  // compactAfter 1: the batch's answer compacted (no batch in flight then).
  expect({ told, journalLines: store.journalLines, compaction: store.compaction }).toEqual({ told: { a: "acknowledged" }, journalLines: 0, compaction: { failures: 0 } });
  await store.close();
  expect(replayedJobs(dir)).toEqual(["a"]);
});

test("ControllerStore.close() during a batch's thread-pool fsync that then fails: the change is refused and a restart does not replay it", async () => {
  const { dir, manual, store, told } = storeBatchInFlight();
  const closed = store.close();
  manual.completeFsyncs(EIO());
  await closed;
  expect({ told, replayed: replayedJobs(dir) }).toEqual({ told: { a: "refused" }, replayed: [] });
});

test("ReferenceController: a submission refused by its batch's failed fsync is not replayed after a restart, though registerRunner() ran during that fsync", async () => {
  const manual = new ManualCommits();
  const h = makeController({ commit: manual.options });
  const job = h.controller.submitJob({ plugin: "echo" });
  const told = { submission: "pending", registration: "pending" };
  h.controller.durable().then(() => (told.submission = "acknowledged"), () => (told.submission = "refused"));
  manual.flush();
  expect(manual.held).toHaveLength(1);
  Promise.resolve().then(() => h.controller.registerRunner({ id: "r1", group: "default" })).then(() => (told.registration = "acknowledged"), () => (told.registration = "refused"));
  await turns();
  manual.completeFsyncs(EIO());
  await turns();
  await h.controller.close();
  const again = makeController({}, h.dataDir);
  const replayed = { job: again.controller.getJob(job.id) !== undefined, runner: again.controller.listRunners().some((r) => r.id === "r1") };
  await again.controller.close();
  expect({ told, replayed }).toEqual({ told: { submission: "refused", registration: "refused" }, replayed: { job: false, runner: false } });
});

test("ControllerStore: a compaction due while a callback of the batch started the next one waits for that one instead of failing", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  // A synchronous schedule: a change made in a callback of a batch starts the next batch at once.
  const commits = new GroupCommit({ logger, schedule: (flush) => flush(), fsync: manual.options.fsync! });
  const store = ControllerStore.open({ dir, logger, commits, compactAfter: 1 });
  store.putJobs([job("a", 1)]);
  commits.afterDurable(() => store.putJobs([job("b", 2)]));
  manual.completeFsyncs();
  // "b"'s batch is in flight: the compaction due after "a"'s was not tried (it would have thrown).
  expect({ held: manual.held.length, compaction: store.compaction, journalLines: store.journalLines }).toEqual({ held: 1, compaction: { failures: 0 }, journalLines: 2 });
  manual.completeFsyncs();
  expect({ compaction: store.compaction, journalLines: store.journalLines }).toEqual({ compaction: { failures: 0 }, journalLines: 0 });
  void store.close();
  expect(replayedJobs(dir)).toEqual(["a", "b"]);
});
