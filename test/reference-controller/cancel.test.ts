import { afterEach, expect, test } from "bun:test";
import { FakeRunner, makeController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

test("ControllerCore.cancelJob() cancels a queued job at once; it never reaches a runner", () => {
  h = makeController();
  const job = h.controller.submitJob({ plugin: "echo" });
  expect(h.controller.cancelJob(job.id)).toMatchObject({ status: "cancelled", error: { code: "job_cancelled" } });
  const r = FakeRunner.connect(h.controller, "r1");
  r.send({ type: "credit", slots: 1 });
  expect(r.of("offer")).toHaveLength(0);
});

test("ControllerCore.cancelJob() on a running job sends cancel, then the result ends it cancelled", () => {
  h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.send({ type: "accept", jobId: job.id, attempt: 1 });
  expect(h.controller.cancelJob(job.id).status).toBe("cancelling");
  expect(r.last("cancel")).toMatchObject({ jobId: job.id, attempt: 1 });
  // Cancelling twice is harmless.
  expect(h.controller.cancelJob(job.id).status).toBe("cancelling");
  r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
  expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
  r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "cancelled", startedAt: 1, finishedAt: 2 });
  expect(r.last("result_ack").accepted).toBe(true);
  expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
});

test("ControllerCore.cancelJob() on a leased job whose runner is gone ends cancelled at lease expiry", () => {
  h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  h.controller.sessions.end(r.session, "test");
  expect(h.controller.cancelJob(job.id).status).toBe("cancelling");
  h.clock.advance(30_000);
  h.controller.sweep();
  expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
});

test("ControllerCore.cancelJob() re-sends the cancel to the runner's new session on its heartbeat", () => {
  h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  h.controller.sessions.end(r.session, "network lost");
  h.controller.cancelJob(job.id);
  expect(r.of("cancel")).toHaveLength(0);
  r.reconnect();
  r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
  expect(r.last("cancel")).toMatchObject({ jobId: job.id, attempt: 1 });
});

test("ControllerCore.cancelJob() refuses a finished job and an unknown id", () => {
  h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "failed", error: { code: "x", message: "boom" }, startedAt: 1, finishedAt: 2 });
  expect(() => h.controller.cancelJob(job.id)).toThrow(`Cannot cancel job "${job.id}": it is already failed`);
  expect(() => h.controller.cancelJob("nope")).toThrow('Cannot cancel job "nope": no such job');
});

test("heartbeat for a cancelled or finished job answers the reason", () => {
  h = makeController();
  const r = FakeRunner.connect(h.controller, "r1");
  const a = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  r.send({ type: "result", jobId: a.id, attempt: 1, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
  r.send({ type: "heartbeat", leases: [{ jobId: a.id, attempt: 1 }] });
  expect(r.last("heartbeat_ack").leases[0]).toMatchObject({ ok: false, reason: "finished" });
});
