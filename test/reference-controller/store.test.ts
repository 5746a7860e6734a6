import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { ControllerStore } from "../../src/reference-controller/store.ts";
import type { StoredJob } from "../../src/reference-controller/records.ts";
import { FakeRunner, makeController, tempDir } from "./helpers.ts";

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
