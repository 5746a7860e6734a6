// Issue 9 item 3: a controller outage must not re-run finished work. Leases lapse because the
// controller was away, not the runner: a restart or a pause gives every lease a fresh grace
// before any expires, and a result (or heartbeat) for an attempt whose lease expired but whose
// job was not leased again is accepted; fencing refuses only when a newer attempt exists.

import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { expireLeases, FakeRunner, leaseOne, openController, ManualTimer, type Harness } from "../reference-controller/helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

const result = (jobId: string, attempt: number) =>
  ({ type: "result", jobId, attempt, lastSeq: 0, status: "succeeded", output: { done: true }, startedAt: 1, finishedAt: 2 }) as const;

forEachStore("outage and leases", (store) => {
  test("a result for an attempt whose lease expired is accepted while the job was not leased again", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    await expireLeases(h);
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt: 1 });
    r.send(result(job.id, 1));
    await h.settle();
    expect(r.last("result_ack")).toMatchObject({ attempt: 1, accepted: true });
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "succeeded", attempt: 1, output: { done: true } });
    expect(h.controller.getJob(job.id)?.error).toBeUndefined();
    // Nothing is offered again: the job ran once.
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(r.of("offer")).toHaveLength(1);
  });

  test("a heartbeat takes back a lease that expired while its job waits, for its runner only", async () => {
    h = await openController(store);
    const a = FakeRunner.connect(h.controller, "a");
    const b = FakeRunner.connect(h.controller, "b");
    const job = h.controller.submitJob({ plugin: "echo" });
    a.send({ type: "credit", slots: 1 });
    await h.settle();
    await expireLeases(h);
    // Another runner cannot claim it with a message about an attempt it never held.
    b.send(result(job.id, 1));
    await h.settle();
    expect(b.last("result_ack")).toMatchObject({ accepted: false, reason: "stale_attempt" });
    a.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(a.last("heartbeat_ack").leases[0]).toMatchObject({ ok: true, leaseExpiresAt: h.clock.t + 30_000 });
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", attempt: 1, runnerId: "a" });
    b.send({ type: "credit", slots: 1 });
    await h.settle();
    expect(b.of("offer")).toHaveLength(0);
  });

  // Once the job was leased again, the older attempt's result is refused: the fencing test in
  // test/reference-controller/leases.test.ts ("result from a stale attempt is refused").

  test("a lease past its expiry but not yet swept stays its runner's: its heartbeat extends it", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    h.clock.advance(45_000);
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
  });

  test("after a restart no lease expires before leaseGraceMs, however long the controller was down", async () => {
    h = await openController(store, { leaseGraceMs: 50_000 });
    const { r, job } = await leaseOne(h);
    // Down for 10 minutes: the stored lease is long past.
    h.clock.advance(600_000);
    h = await h.reopen();
    h.controller.sweep();
    await h.settle();
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
    await expireLeases(h, 49_000);
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
    const again = new FakeRunner(h.controller, "r1");
    again.apiKey = r.apiKey;
    again.reconnect();
    await h.settle();
    again.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(again.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    again.send(result(job.id, 1));
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "succeeded", attempt: 1 });
  });

  /** A controller whose sweep loop runs on a manual timer and a fake monotonic clock, holding one lease of r1. */
  async function pausable() {
    const timer = new ManualTimer();
    const mono = { t: 0 };
    h = await openController(store, { autoSweep: true, timer, monotonic: () => mono.t, leaseGraceMs: 40_000 });
    const { r, job } = await leaseOne(h);
    /** Frozen for `ms`: wall clock and monotonic clock both move, no tick runs in between. */
    const freeze = (ms: number) => {
      h!.clock.advance(ms);
      mono.t += ms;
    };
    return { h, timer, r, job, freeze };
  }

  test("after a pause (SIGSTOP) every lease gets a fresh grace before a frame or a sweep can expire it", async () => {
    const { h, timer, r, job, freeze } = await pausable();
    timer.fireAll(); // one tick before the pause
    freeze(60_000);
    // The runner's buffered heartbeat is read before the sweep runs: the lease is still its own.
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    expect(h.records.some((x) => x.msg.includes("paused for 60 s"))).toBe(true);
    // And a sweep right after a pause does not expire what was not heartbeated yet.
    const other = h.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    freeze(60_000);
    await h.settle();
    timer.fireAll();
    await h.settle();
    expect(h.controller.getJob(other.id)?.status).toBe("leased");
    expect(h.controller.getJob(job.id)?.status).toBe("leased");
  });

  test("a pause before the sweep loop's first tick (stopped a second after the start) still gives every lease a grace", async () => {
    const { h, timer, r, job, freeze } = await pausable();
    // Frozen before the loop ever ticked: the chaos suite's SIGSTOP lands within the first second.
    freeze(60_000);
    await h.settle();
    timer.fireAll();
    await h.settle();
    expect(h.records.some((x) => x.msg.includes("paused for 60 s"))).toBe(true);
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", attempt: 1 });
    // The result the runner sent during the pause is accepted: the job ran once.
    r.send(result(job.id, 1));
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "succeeded", attempt: 1 });
  });
});
