import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { expireLeases, FakeRunner, leaseOne, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

forEachStore("cancellation", (store) => {
  test("ControllerCore.cancelJob() cancels a queued job at once; it never reaches a runner", async () => {
    h = await openController(store);
    const job = h.controller.submitJob({ plugin: "echo" });
    await h.settle();
    expect(await h.controller.cancelJob(job.id)).toMatchObject({ status: "cancelled", error: { code: "job_cancelled" } });
    await h.settle();
    const r = FakeRunner.connect(h.controller, "r1");
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.of("offer")).toHaveLength(0);
  });

  test("ControllerCore.cancelJob() on a running job sends cancel, then the result ends it cancelled", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    expect((await h.controller.cancelJob(job.id)).status).toBe("cancelling");
    await h.settle();
    expect(r.last("cancel")).toMatchObject({ jobId: job.id, attempt: 1 });
    // Cancelling twice is harmless.
    expect((await h.controller.cancelJob(job.id)).status).toBe("cancelling");
    await h.settle();
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "cancelled", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
  });

  test("ControllerCore.cancelJob() on a leased job whose runner is gone ends cancelled at lease expiry", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    h.controller.sessions.end(r.session, "test");
    await h.settle();
    expect((await h.controller.cancelJob(job.id)).status).toBe("cancelling");
    await h.settle();
    await expireLeases(h);
    expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
  });

  test("ControllerCore.cancelJob() re-sends the cancel to the runner's new session on its heartbeat", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    h.controller.sessions.end(r.session, "network lost");
    await h.settle();
    await h.controller.cancelJob(job.id);
    await h.settle();
    expect(r.of("cancel")).toHaveLength(0);
    r.reconnect();
    await h.settle();
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("cancel")).toMatchObject({ jobId: job.id, attempt: 1 });
  });

  test("ControllerCore.cancelJob() refuses a finished job and an unknown id", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "failed", error: { code: "x", message: "boom" }, startedAt: 1, finishedAt: 2 });
    await h.settle();
    await expect(h.controller.cancelJob(job.id)).rejects.toThrow(`Cannot cancel job "${job.id}": it is already failed`);
    await h.settle();
    await expect(h.controller.cancelJob("nope")).rejects.toThrow('Cannot cancel job "nope": no such job');
    await h.settle();
  });

  test("heartbeat for a cancelled or finished job answers the reason", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    const a = h.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    r.send({ type: "result", jobId: a.id, attempt: 1, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    r.send({ type: "heartbeat", leases: [{ jobId: a.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]).toMatchObject({ ok: false, reason: "finished" });
  });
});
