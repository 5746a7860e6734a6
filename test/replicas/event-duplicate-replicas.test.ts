// The same event (a runner's resend after it moved, e.g. a long-poll send that reached A late while
// the runner already resent it through B) stored by two replicas whose cursors are both behind:
// both number it with the same seq. Until 2026-12-02 the second batch hit the PRIMARY KEY
// (job_id, seq), the whole transaction failed and that replica's store with it (every session on
// it ended). Now the second copy is dropped as on one process (pg-event-quota.ts dropStored).
import { afterEach, expect, test } from "bun:test";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, openReplica, type Harness } from "../reference-controller/helpers.ts";

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.controller.close().catch(() => {});
});

forEachStore("duplicate event across replicas", (store) => {
  test("one log event (seq 1) delivered through A and through B in the same moment: stored once, neither replica's store fails", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const apiKey = (await a.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    await new Promise((r) => setTimeout(r, 300));
    const ra = FakeRunner.connect(a.controller, "r1", "default", apiKey);
    const job = a.controller.submitJob({ plugin: "echo" });
    ra.send({ type: "credit", slots: 1 });
    await a.settle();
    ra.send({ type: "accept", jobId: job.id, attempt: 1 });
    await a.settle();
    await eventually(() => (b.controller.getJob(job.id)?.status === "running" ? true : undefined), 5_000, "B sees running");
    const rb = FakeRunner.connect(b.controller, "r1", "default", apiKey);
    const log = { type: "log" as const, jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info" as const, msg: "hello" }] };
    ra.send(log);
    rb.send(log);
    await Promise.allSettled([a.settle(), b.settle()]);
    await new Promise((r) => setTimeout(r, 300));
    const [row] = await store.sql()<Array<{ n: number }>>`SELECT count(*)::int AS n FROM job_events WHERE job_id = ${job.id}`;
    const failures = [...a.records, ...b.records].filter((r) => /Cannot write the controller's store/.test(JSON.stringify(r))).map((r) => JSON.stringify(r).slice(0, 300));
    expect({
      logged: failures.length,
      stored: row?.n,
      aFailed: a.controller.core.store.commits.failure !== undefined,
      bFailed: b.controller.core.store.commits.failure !== undefined,
    }).toEqual({ logged: 0, stored: 1, aFailed: false, bFailed: false });
    expect([ra.last("ack").seq, rb.last("ack").seq]).toEqual([1, 1]);
    // B's count is the database's again: the runner's next event through B is stored as seq 2.
    rb.send({ ...log, seq: 2, lines: [{ ts: 2, level: "info" as const, msg: "world" }] });
    await b.settle();
    expect(rb.last("ack").seq).toBe(2);
    const rows = await store.sql()<Array<{ seq: number; attempt_seq: number }>>`SELECT seq, attempt_seq FROM job_events WHERE job_id = ${job.id} ORDER BY seq`;
    expect(rows.map((r) => [r.seq, r.attempt_seq])).toEqual([[1, 1], [2, 2]]);
  }, 30_000);
}, ["postgres"]);
