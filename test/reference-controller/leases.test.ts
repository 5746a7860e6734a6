import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { expireLeases, FakeRunner, leaseOne, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

forEachStore("leases and dispatch", (store) => {
  test("ControllerCore.dispatch() offers only with credit and never more than granted", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    for (let i = 0; i < 5; i++) h.controller.submitJob({ plugin: "echo" });
    await h.settle();
    expect(r.of("offer")).toHaveLength(0);
    r.send({ type: "credit", slots: 2 });
    await h.settle();
    expect(r.of("offer")).toHaveLength(2);
    expect(r.session.credit).toBe(0);
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.of("offer")).toHaveLength(3);
    // Offers are FIFO and first attempts.
    const offers = r.of("offer").map((m) => m.job);
    expect(offers.map((j) => j.attempt)).toEqual([1, 1, 1]);
    expect(offers[0]?.submittedAt).toBeLessThanOrEqual(offers[1]?.submittedAt ?? 0);
    expect(h.controller.core.queuedCount("default")).toBe(2);
  });

  test("ControllerCore.dispatch() gives two runners of a group distinct jobs, round-robin", async () => {
    h = await openController(store);
    const a = FakeRunner.connect(h.controller, "a");
    const b = FakeRunner.connect(h.controller, "b");
    a.send({ type: "credit", slots: 10 });
    await h.settle();
    b.send({ type: "credit", slots: 10 });
    await h.settle();
    const ids = Array.from({ length: 6 }, () => h.controller.submitJob({ plugin: "echo" }).id);
    await h.settle();
    const got = [...a.of("offer"), ...b.of("offer")].map((m) => m.job.id);
    expect(new Set(got).size).toBe(6);
    expect(got.sort()).toEqual([...ids].sort());
    expect(a.of("offer").length).toBe(3);
    expect(b.of("offer").length).toBe(3);
  });

  test("ControllerCore.dispatch() keeps groups apart", async () => {
    h = await openController(store);
    const other = FakeRunner.connect(h.controller, "o", "gpu");
    other.send({ type: "credit", slots: 5 });
    await h.settle();
    h.controller.submitJob({ plugin: "echo" });
    await h.settle();
    expect(other.of("offer")).toHaveLength(0);
    h.controller.submitJob({ plugin: "echo", group: "gpu" });
    await h.settle();
    expect(other.of("offer")).toHaveLength(1);
  });

  test("ControllerCore.expireLeases() re-queues with attempt + 1 on the next lease", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
    await expireLeases(h, 29_999);
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
    await expireLeases(h, 1);
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt: 1, error: { code: "lease_expired" } });
    expect(h.controller.getJob(job.id)?.runnerId).toBeUndefined();
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.last("offer").job).toMatchObject({ id: job.id, attempt: 2 });
  });

  test("ControllerCore.expireLeases() fails the job with lease_expired after maxAttempts", async () => {
    h = await openController(store, { maxAttempts: 2 });
    const r = FakeRunner.connect(h.controller, "r1");
    const job = h.controller.submitJob({ plugin: "echo" });
    await h.settle();
    for (let i = 0; i < 2; i++) {
      r.send({ type: "credit", slots: 1 });
      await h.settle();
      await expireLeases(h);
    }
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "failed", attempt: 2, error: { code: "lease_expired" } });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.of("offer")).toHaveLength(2);
  });

  test("heartbeat extends the lease and answers per lease", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    expect(h.controller.getJob(job.id)?.status).toBe("running");
    h.clock.advance(20_000);
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }, { jobId: "nope", attempt: 1 }] });
    await h.settle();
    const ack = r.last("heartbeat_ack");
    expect(ack.leases[0]).toEqual({ jobId: job.id, attempt: 1, ok: true, leaseExpiresAt: h.clock.t + 30_000 });
    expect(ack.leases[1]).toMatchObject({ jobId: "nope", ok: false, reason: "unknown_job" });
    await expireLeases(h, 20_000);
    expect(h.controller.getJob(job.id)?.status).toBe("running");
  });

  test("heartbeat from a new session moves the lease there; a stale attempt is refused", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    const oldSession = r.session;
    await h.settle();
    r.reconnect();
    await h.settle();
    expect(oldSession.closed).toBe(true);
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    expect(h.controller.core.leaseSession.get(job.id)).toBe(r.session.id);
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 7 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]).toMatchObject({ ok: false, reason: "stale_attempt" });
  });

  test("result from a stale attempt is refused (fencing) and a duplicate result is acked again", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    await expireLeases(h);
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.last("offer").job.attempt).toBe(2);
    const result = { type: "result" as const, jobId: job.id, lastSeq: 0, status: "succeeded" as const, output: { n: 1 }, startedAt: 1, finishedAt: 2 };
    r.send({ ...result, attempt: 1 });
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ attempt: 1, accepted: false, reason: "stale_attempt" });
    r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "old" }] });
    await h.settle();
    expect(r.of("ack")).toHaveLength(0);
    r.send({ ...result, attempt: 2 });
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ attempt: 2, accepted: true });
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "succeeded", output: { n: 1 }, attempt: 2 });
    expect(h.controller.getJob(job.id)?.error).toBeUndefined();
    r.send({ ...result, attempt: 2 });
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ attempt: 2, accepted: true });
    r.send({ ...result, jobId: "missing", attempt: 1 });
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ accepted: false, reason: "unknown_job" });
  });

  test("result of another runner's lease is refused", async () => {
    h = await openController(store);
    const a = FakeRunner.connect(h.controller, "a");
    const b = FakeRunner.connect(h.controller, "b");
    const job = h.controller.submitJob({ plugin: "echo" });
    a.send({ type: "credit", slots: 1 });
    await h.settle();
    b.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(b.last("result_ack")).toMatchObject({ accepted: false, reason: "stale_attempt" });
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
  });

  test("log/step events: duplicates dropped, gaps not stored, contiguous ack, events_missing", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    const line = (msg: string) => [{ ts: 1, level: "info" as const, msg }];
    r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: line("one") });
    await h.settle();
    r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: line("one again") });
    await h.settle();
    r.send({ type: "step", jobId: job.id, attempt: 1, seq: 3, step: { id: "s", status: "running" } });
    await h.settle();
    expect(r.of("ack").map((a) => a.seq)).toEqual([1, 1, 1]);
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 3, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ accepted: false, reason: "events_missing", expectedSeq: 2 });
    r.send({ type: "log", jobId: job.id, attempt: 1, seq: 2, lines: line("two") });
    await h.settle();
    r.send({ type: "step", jobId: job.id, attempt: 1, seq: 3, step: { id: "s", status: "succeeded" } });
    await h.settle();
    expect(r.last("ack").seq).toBe(3);
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 3, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    const events = (await h.controller.core.logs.read(job.id, 0, 100));
    await h.settle();
    expect(events.map((e) => [e.seq, e.attemptSeq, e.type])).toEqual([[1, 1, "log"], [2, 2, "log"], [3, 3, "step"]]);
    expect(events[0]).toMatchObject({ lines: line("one") });
  });

  test("reject re-queues at once; interrupted re-queues while attempts remain, then fails", async () => {
    h = await openController(store, { maxAttempts: 2 });
    const { r, job } = await leaseOne(h);
    r.send({ type: "reject", jobId: job.id, attempt: 1, error: { code: "draining", message: "draining" } });
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt: 1 });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.last("offer").job.attempt).toBe(2);
    r.send({ type: "result", jobId: job.id, attempt: 2, lastSeq: 0, status: "interrupted", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "failed", error: { code: "job_interrupted" } });

    const again = h.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    r.send({ type: "result", jobId: again.id, attempt: 1, lastSeq: 0, status: "interrupted", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(h.controller.getJob(again.id)).toMatchObject({ status: "queued", attempt: 1, error: { code: "job_interrupted" } });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(h.controller.getJob(again.id)).toMatchObject({ status: "leased", attempt: 2 });
  });
});
