// flushSync() (close, compaction, rare admin changes) while a batch's fsync still runs on the
// thread pool: it used to skip the files that batch had taken (nothing pending) and mark all
// durable, so a caller of durable() was answered before that batch's fsync had answered, and a
// failed fsync then cut from the journal a change already acknowledged. Each test failed before
// the fix in group-commit.ts (flushSync), except the one named as a guard.

import { expect, test } from "bun:test";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { AppendFile } from "../../src/reference-controller/append-file.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import { ManualCommits, tempDir } from "./helpers.ts";

const job = (id: string, queueSeq: number): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq,
});

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
  return { manual, commits, journal, segment, order };
}

test("GroupCommit.flushSync() during a batch's thread-pool fsync acknowledges nothing before that fsync answers", () => {
  const { manual, commits, order } = batchInFlight();
  const before = commits.stats.fsyncs;
  commits.flushSync();
  // Both files synced here, the one whose batch is in flight too (nothing was pending on it).
  expect({ order, fsyncs: commits.stats.fsyncs - before }).toEqual({ order: [], fsyncs: 2 });
  manual.completeFsyncs();
  expect(order).toEqual(["in flight", "after"]);
  commits.close();
});

test("GroupCommit.flushSync(): a batch's thread-pool fsync failing after it acknowledges neither that batch nor the flush", () => {
  const { manual, commits, order } = batchInFlight();
  commits.flushSync();
  manual.completeFsyncs(new Error("EIO: i/o error, fdatasync"));
  expect(order).toEqual(["in flight failed: EIO: i/o error, fdatasync", "after failed: EIO: i/o error, fdatasync"]);
  commits.close();
});

test("GroupCommit.close() during a batch's thread-pool fsync answers its waiters after that fsync, and closes the file only then", () => {
  const { manual, commits, journal, segment, order } = batchInFlight();
  commits.close();
  // The file whose fsync runs keeps its descriptor (a guard: this part passed before the fix).
  expect({ order, journal: journal.closed, segment: segment.closed }).toEqual({ order: [], journal: false, segment: false });
  manual.completeFsyncs();
  expect({ order, journal: journal.closed, segment: segment.closed }).toEqual({ order: ["in flight", "after"], journal: true, segment: true });
});

test("ControllerStore.compact() during a batch's thread-pool fsync that then fails: the change is not acknowledged, and the journal keeps it", async () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  // A snapshot never fits: the compaction fails after its flush and the journal stays whole.
  const store = ControllerStore.open({ dir, logger, commits, snapshotMaxBytes: 10 });
  store.putJobs([job("a", 1)]);
  let outcome = "pending";
  store.durable().then(() => (outcome = "acknowledged"), () => (outcome = "refused"));
  manual.flush();
  expect(() => store.compact()).toThrow(/over the cap/);
  manual.completeFsyncs(new Error("EIO: i/o error, fdatasync"));
  store.close();
  await Promise.resolve(); // the durable() promise's handlers
  // The compaction's flush put the change on disk (its own fdatasync succeeded), so the journal
  // keeps it: refused, and still replayed (a full upsert; its sender retries). Before the fix it
  // was acknowledged and then cut from the journal.
  const again = ControllerStore.open({ dir, logger });
  const replayed = again.jobs.has("a");
  again.close();
  expect({ outcome, replayed }).toEqual({ outcome: "refused", replayed: true });
});
