import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { FakeRunner, makeController, ManualCommits, tempDir } from "./helpers.ts";
import { journalText } from "../helpers/journal-text.ts";

const job = (id: string, queueSeq: number, extra: Partial<StoredJob> = {}): StoredJob => ({
  id, group: "default", plugin: "p", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq, ...extra,
});

test("ControllerStore.open() replays the journal: the last record of a job wins", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const a = ControllerStore.open({ dir, logger });
  a.putJobs([job("j1", 1), job("j2", 2)]);
  a.putJobs([job("j1", 1, { status: "leased", attempt: 1 })]);
  a.commit([{ t: "runner", runner: { id: "r1", group: "default", apiKeyHash: "00", registeredAt: 1 } }, { t: "runner_deleted", id: "r1" }]);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect(b.jobs.get("j1")).toMatchObject({ status: "leased", attempt: 1 });
  expect(b.jobs.size).toBe(2);
  expect(b.runners.size).toBe(0);
  expect(b.nextQueueSeq()).toBe(3);
  b.close();
});

test("ControllerStore.open() skips a torn last line with a warning and appends cleanly after it", () => {
  const dir = tempDir();
  const { logger, records } = memoryLogger();
  const a = ControllerStore.open({ dir, logger });
  a.putJobs([job("j1", 1)]);
  a.close();
  fs.appendFileSync(path.join(dir, "journal.jsonl"), '{"t":"job","job":{"id":"j2","gro');
  const b = ControllerStore.open({ dir, logger });
  expect([...b.jobs.keys()]).toEqual(["j1"]);
  expect(records.some((r) => r.level === "warn" && r.msg.includes("torn last line"))).toBe(true);
  b.putJobs([job("j3", 3)]);
  b.close();
  const c = ControllerStore.open({ dir, logger });
  expect([...c.jobs.keys()].sort()).toEqual(["j1", "j3"]);
  c.close();
});

test("ControllerStore.compact() writes a snapshot and an empty journal; replay gives the same state", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const a = ControllerStore.open({ dir, logger, compactAfter: 5 });
  for (let i = 1; i <= 12; i++) a.putJobs([job(`j${i}`, i)]);
  // Compacted after `compactAfter` lines, or once the journal holds as many lines as jobs kept.
  expect(a.journalLines).toBeLessThan(12);
  expect(fs.existsSync(path.join(dir, "snapshot.json"))).toBe(true);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect(b.jobs.size).toBe(12);
  b.close();
});

// A snapshot rewrites every job kept (finished ones stay for the retention period): with a fixed
// line count, a store of 100,000 jobs rewrote all of them every 10,000 changes, a cost per change
// that grew with the store (issue 15). The journal now grows to as many lines as jobs first.
test("ControllerStore compacts a large store once its journal is as long as the store, not every compactAfter lines", () => {
  const dir = tempDir();
  const { logger, records } = memoryLogger();
  const a = ControllerStore.open({ dir, logger, compactAfter: 5 });
  for (let i = 1; i <= 50; i++) a.putJobs([job(`j${i}`, i)]);
  const compactions = () => records.filter((r) => r.msg === "Compacted the controller journal").length;
  const before = compactions();
  for (let round = 0; round < 4; round++) for (let i = 1; i <= 50; i++) a.putJobs([job(`j${i}`, i, { attempt: round + 1 })]);
  // 200 changes to a store of 50 jobs: a snapshot about every 50 lines, not every 5 (that was 40).
  expect(compactions() - before).toBeLessThanOrEqual(4);
  expect(compactions() - before).toBeGreaterThanOrEqual(3);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect(b.jobs.size).toBe(50);
  expect(b.jobs.get("j7")?.attempt).toBe(4);
  b.close();
});

test("ReferenceController.create() refuses a data directory in use by a live controller", async () => {
  const h = makeController();
  expect(() => makeController({}, h.dataDir)).toThrow("data directory is in use");
  await h.controller.close();
});

// Issue 15: the controller stringified and wrote every record of a job, though a job that changes
// twice in one batch (a runner's accept and result in one frame, a job submitted and leased at
// once) is durable, and acknowledged, only in its last state.
test("ControllerStore writes only a job's last record of a batch, and a replay ends in the same state", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const a = ControllerStore.open({ dir, logger, commits });
  a.putJobs([job("j1", 1), job("j2", 2)]);
  manual.settle();
  a.putJobs([job("j1", 1, { status: "leased", attempt: 1 })]);
  a.putJobs([job("j1", 1, { status: "running", attempt: 1 })]);
  a.commit([{ t: "runner", runner: { id: "r1", group: "default", apiKeyHash: "00", registeredAt: 1 } }]);
  a.putJobs([job("j1", 1, { status: "succeeded", attempt: 1, output: { ok: true } })]);
  a.commit([{ t: "runner_deleted", id: "r1" }]);
  // In memory at once, before the batch is written.
  expect(a.jobs.get("j1")?.status).toBe("succeeded");
  expect(a.runners.size).toBe(0);
  manual.settle();
  const lines = journalText(path.join(dir, "journal.jsonl")).trim().split("\n").map((l) => JSON.parse(l) as { t: string; job?: StoredJob });
  expect(lines.map((l) => `${l.t}:${l.job?.id ?? ""}:${l.job?.status ?? ""}`)).toEqual(["job:j1:queued", "job:j2:queued", "runner_deleted::", "job:j1:succeeded"]);
  expect(a.journalLines).toBe(4);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect(b.jobs.get("j1")).toMatchObject({ status: "succeeded", attempt: 1, output: { ok: true } });
  expect(b.jobs.get("j2")?.status).toBe("queued");
  expect(b.runners.size).toBe(0);
  b.close();
});

// A journal written before records were coalesced (every record on its own line) replays as before.
test("ControllerStore replays a journal of the previous format, one line per record", () => {
  const dir = tempDir();
  const { logger } = memoryLogger();
  const old = [
    { t: "runner", runner: { id: "r1", group: "default", apiKeyHash: "00", registeredAt: 1 } },
    { t: "job", job: job("j1", 1) },
    { t: "job", job: job("j1", 1, { status: "leased", attempt: 1, runnerId: "r1", leaseExpiresAt: 5 }) },
    { t: "job", job: job("j1", 1, { status: "running", attempt: 1, runnerId: "r1", leaseExpiresAt: 5, startedAt: 2 }) },
    { t: "job", job: job("j1", 1, { status: "succeeded", attempt: 1, runnerId: "r1", startedAt: 2, finishedAt: 3, reportedAttempt: 1 }) },
    { t: "job", job: job("j2", 2) },
  ];
  fs.writeFileSync(path.join(dir, "journal.jsonl"), old.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const a = ControllerStore.open({ dir, logger });
  expect(a.jobs.get("j1")).toMatchObject({ status: "succeeded", reportedAttempt: 1, finishedAt: 3 });
  expect(a.jobs.get("j2")?.status).toBe("queued");
  expect(a.runners.get("r1")?.group).toBe("default");
  expect(a.journalLines).toBe(6);
  expect(a.nextQueueSeq()).toBe(3);
  a.close();
});

// Records are serialized when their batch is written (see the test above): one that cannot be
// serialized fails that batch like a failed write, never the process, and nothing is acknowledged.
test("ControllerStore: a record that cannot be serialized fails its batch closed, acknowledging nothing", async () => {
  const dir = tempDir();
  const { logger, records } = memoryLogger();
  const manual = new ManualCommits();
  const commits = new GroupCommit({ logger, ...manual.options });
  const a = ControllerStore.open({ dir, logger, commits });
  a.putJobs([job("j1", 1)]);
  manual.settle();
  a.putJobs([job("j2", 2, { input: { n: 1n } })]);
  const durable = a.durable();
  manual.flush();
  await expect(durable).rejects.toThrow(/BigInt/);
  expect(commits.failure).toBeDefined();
  expect(() => a.putJobs([job("j3", 3)])).toThrow(/refusing changes/);
  expect(records.some((r) => r.level === "error" && r.msg.includes("refusing every change"))).toBe(true);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect([...b.jobs.keys()]).toEqual(["j1"]);
  b.close();
});
