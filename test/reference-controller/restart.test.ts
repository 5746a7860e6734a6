// A controller restart on either store: what was acknowledged comes back (queue order, leases
// and their expiry, the event cursor), and the restart grace holds before a lapsed lease expires.

import { expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { expireLeases, FakeRunner, leaseOne, openController } from "./helpers.ts";

forEachStore("controller restart", (store) => {
  test("ReferenceController restart loses no queued job and keeps FIFO order", async () => {
    let h = await openController(store);
    const ids = Array.from({ length: 3 }, () => h.controller.submitJob({ plugin: "echo" }).id);
    // Closing makes what was accepted durable first.
    h = await h.reopen();
    const r = FakeRunner.connect(h.controller, "r1");
    r.send({ type: "credit", slots: 10 });
    await h.settle();
    expect(r.of("offer").map((m) => m.job.id)).toEqual(ids);
    await h.controller.close();
  });

  test("ReferenceController restart keeps a leased job leased with its expiry; a heartbeat keeps it", async () => {
    let h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "before restart" }] });
    await h.settle();
    const leased = h.controller.getJob(job.id);
    h = await h.reopen();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", attempt: 1, leaseExpiresAt: leased?.leaseExpiresAt });
    const again = new FakeRunner(h.controller, "r1");
    again.apiKey = r.apiKey;
    again.reconnect();
    h.clock.advance(10_000);
    again.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(again.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    // The event cursor is rebuilt from the log file: seq 1 is a duplicate, 2 is next.
    again.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "resent" }] });
    await h.settle();
    expect(again.last("ack").seq).toBe(1);
    again.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 1, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(again.last("result_ack").accepted).toBe(true);
    await h.controller.close();
  });

  test("ReferenceController restart re-queues a leased job whose runner does not come back, after the restart grace", async () => {
    let h = await openController(store);
    const { r, job } = await leaseOne(h);
    h = await h.reopen();
    // The lease lapsed while the controller was down: it gets leaseGraceMs (TTL + 60 s) first.
    await expireLeases(h);
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
    await expireLeases(h, 60_000);
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt: 1 });
    await h.controller.close();
  });
});
