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

test("ReferenceController restart loses no queued job and keeps FIFO order", async () => {
  let h = makeController();
  const ids = Array.from({ length: 3 }, () => h.controller.submitJob({ plugin: "echo" }).id);
  h = await h.reopen();
  const r = FakeRunner.connect(h.controller, "r1");
  r.send({ type: "credit", slots: 10 });
  expect(r.of("offer").map((m) => m.job.id)).toEqual(ids);
  await h.controller.close();
});

test("ReferenceController restart keeps a leased job leased with its expiry; a heartbeat keeps it", async () => {
  let h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "before restart" }] });
  const leased = h.controller.getJob(job.id);
  h = await h.reopen();
  expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", attempt: 1, leaseExpiresAt: leased?.leaseExpiresAt });
  const again = new FakeRunner(h.controller, "r1");
  again.apiKey = r.apiKey;
  again.reconnect();
  h.clock.advance(10_000);
  again.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
  expect(again.last("heartbeat_ack").leases[0]?.ok).toBe(true);
  // The event cursor is rebuilt from the log file: seq 1 is a duplicate, 2 is next.
  again.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "resent" }] });
  expect(again.last("ack").seq).toBe(1);
  again.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 1, status: "succeeded", startedAt: 1, finishedAt: 2 });
  expect(again.last("result_ack").accepted).toBe(true);
  await h.controller.close();
});

test("ReferenceController restart re-queues a leased job whose runner does not come back, after the restart grace", async () => {
  let h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  h = await h.reopen();
  // The lease lapsed while the controller was down: it gets leaseGraceMs (TTL + 60 s) first.
  h.clock.advance(30_000);
  h.controller.sweep();
  expect(h.controller.getJob(job.id)?.status).toBe("leased");
  h.clock.advance(60_000);
  h.controller.sweep();
  expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt: 1 });
  await h.controller.close();
});

test("ReferenceController.create() refuses a data directory in use by a live controller", async () => {
  const h = makeController();
  expect(() => makeController({}, h.dataDir)).toThrow("data directory is in use");
  await h.controller.close();
});
