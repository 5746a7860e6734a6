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
  expect(a.journalLines).toBeLessThan(5);
  expect(fs.existsSync(path.join(dir, "snapshot.json"))).toBe(true);
  a.close();
  const b = ControllerStore.open({ dir, logger });
  expect(b.jobs.size).toBe(12);
  b.close();
});

test("ReferenceController.create() refuses a data directory in use by a live controller", async () => {
  const h = makeController();
  expect(() => makeController({}, h.dataDir)).toThrow("data directory is in use");
  await h.controller.close();
});
