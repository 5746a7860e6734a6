// A batch of the group commit spans the journal and the open event segment. When one file of it
// cannot be written or synced, the batch is refused (nothing acknowledged), so no file may keep
// its part for a restart to replay (docs/reliability.md): each is cut back to the end of its last
// acknowledged batch. Each test failed before the fix (group-commit.ts #fail, AppendFile.abandon()).

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { GroupCommit, SYNCHRONOUS, type FsyncFn } from "../../src/reference-controller/group-commit.ts";
import { JobLogs, type JobEvent } from "../../src/reference-controller/job-logs.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { Tmpfs, tmpfsUnavailable } from "../helpers/tmpfs.ts";
import { tempDir } from "./helpers.ts";

const skip = tmpfsUnavailable();
let disk: Tmpfs | undefined;
afterEach(() => {
  disk?.unmount();
  disk = undefined;
});

const job = (id: string, queueSeq: number, input: unknown = {}): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});
const event = (seq: number, msg: string): JobEvent => ({ seq, attempt: 1, attemptSeq: seq, type: "log", lines: [{ ts: 1, level: "info", msg }] });
const messages = (events: JobEvent[]) => events.map((e) => (e.type === "log" ? e.lines[0]?.msg : undefined));

/** The store and event journal in `dir`, batches run when `settle()` is called. */
function open(dir: string, fsync: FsyncFn = SYNCHRONOUS.fsync) {
  const { logger } = memoryLogger();
  const queue: Array<() => void> = [];
  const commits = new GroupCommit({ logger, schedule: (flush) => queue.push(flush), fsync });
  const store = ControllerStore.open({ dir, logger, commits });
  const logs = new JobLogs({ dir: path.join(dir, "events"), logger, commits });
  const settle = () => { while (queue.length > 0) queue.shift()!(); };
  const close = () => {
    try {
      store.close();
    } catch {
      // A failed store's close may throw its failure again.
    }
    commits.close();
  };
  return { commits, store, logs, settle, close };
}

/** A batch the next `settle()` writes: a job change and a log line of job "a". */
function acknowledgedBatch(dir: string): void {
  const c = open(dir);
  c.store.putJobs([job("a", 1)]);
  c.logs.append("a", [event(1, "acknowledged")]);
  let acked = false;
  c.commits.afterDurable(() => (acked = true));
  c.settle();
  expect(acked).toBe(true);
  c.close();
}

/** A data dir on a small tmpfs holding one acknowledged batch, with all but 256 KiB of the disk filled. */
function nearlyFullDisk(): { dir: string; mounted: Tmpfs } {
  const mounted = Tmpfs.mount(8 * 1024 * 1024);
  disk = mounted;
  const dir = path.join(mounted.dir, "data");
  fs.mkdirSync(dir);
  acknowledgedBatch(dir);
  mounted.fill(256 * 1024);
  return { dir, mounted };
}

/** What a restart replays: the jobs and job "a"'s and "b"'s log lines. */
function replayed(dir: string): { jobs: string[]; a: unknown[]; b: unknown[] } {
  const c = open(dir);
  try {
    return { jobs: [...c.store.jobs.keys()].sort(), a: messages(c.logs.read("a", 0, 10)), b: messages(c.logs.read("b", 0, 10)) };
  } finally {
    c.close();
  }
}

test.skipIf(skip !== undefined)("GroupCommit: a batch whose event segment write failed on a full disk leaves no part in the journal, though the journal's write fitted", () => {
  const { dir, mounted } = nearlyFullDisk();
  const c = open(dir);
  c.store.putJobs([job("b", 2)]);
  c.logs.append("b", [event(1, "x".repeat(2 * 1024 * 1024))]);
  let refused: Error | undefined;
  c.commits.afterDurable(() => {}, (error) => (refused = error));
  c.settle();
  expect(refused?.message).toContain("ENOSPC");
  c.close();
  mounted.free();
  expect(replayed(dir)).toEqual({ jobs: ["a"], a: ["acknowledged"], b: [] });
});

test.skipIf(skip !== undefined)("GroupCommit: a batch whose journal write failed on a full disk leaves no part in the event segment, also after a log read reached its events", () => {
  const { dir, mounted } = nearlyFullDisk();
  const c = open(dir);
  c.store.putJobs([job("b", 2, { blob: "j".repeat(2 * 1024 * 1024) })]);
  c.logs.append("b", [event(1, "refused")]);
  c.settle();
  expect(c.commits.failure?.message).toContain("ENOSPC");
  // The refused batch's event was never written: a read of it is the store's failure, not the event.
  expect(() => c.logs.read("b", 0, 10)).toThrow(/ENOSPC/);
  expect(messages(c.logs.read("a", 0, 10))).toEqual(["acknowledged"]);
  c.close();
  mounted.free();
  expect(replayed(dir)).toEqual({ jobs: ["a"], a: ["acknowledged"], b: [] });
});

test("GroupCommit: a batch whose fsync failed on one file leaves no part in the file whose fsync succeeded", () => {
  const dir = tempDir();
  acknowledgedBatch(dir);
  // The second fsync of the batch fails (EIO): one file was made durable, the other not.
  let calls = 0;
  const c = open(dir, (fd, done) => {
    calls++;
    if (calls === 2) done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    else SYNCHRONOUS.fsync(fd, done);
  });
  c.store.putJobs([job("b", 2)]);
  c.logs.append("b", [event(1, "refused")]);
  let refused: Error | undefined;
  c.commits.afterDurable(() => {}, (error) => (refused = error));
  c.settle();
  expect(calls).toBe(2);
  expect(refused?.message).toContain("EIO");
  c.close();
  expect(replayed(dir)).toEqual({ jobs: ["a"], a: ["acknowledged"], b: [] });
});

test("GroupCommit: a refused batch after acknowledged ones of the same run cuts back only its own part", () => {
  const dir = tempDir();
  let failing = false;
  const c = open(dir, (fd, done) => (failing ? done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" })) : SYNCHRONOUS.fsync(fd, done)));
  for (let i = 1; i <= 3; i++) {
    c.store.putJobs([job(`a${i}`, i)]);
    c.logs.append("a", [event(i, `acknowledged ${i}`)]);
    c.settle();
  }
  expect(c.commits.failure).toBeUndefined();
  failing = true;
  c.store.putJobs([job("b", 4)]);
  c.logs.append("b", [event(1, "refused")]);
  c.settle();
  expect(c.commits.failure?.message).toContain("EIO");
  // Acknowledged events are still served; the refused one is the store's failure.
  expect(messages(c.logs.read("a", 0, 10))).toEqual(["acknowledged 1", "acknowledged 2", "acknowledged 3"]);
  expect(() => c.logs.read("b", 0, 10)).toThrow(/EIO/);
  c.close();
  expect(replayed(dir)).toEqual({ jobs: ["a1", "a2", "a3"], a: ["acknowledged 1", "acknowledged 2", "acknowledged 3"], b: [] });
});
