// Several controller replicas, all active on one PostgreSQL database (issue 16 item 2), in one
// process with runners connected in memory: a job submitted on one replica is offered at once to
// a runner on another (LISTEN/NOTIFY; no sweep loop runs here, so nothing polls), waiters wake on
// any replica, two replicas leasing one job send one offer (compare-and-swap; the loser's credit
// comes back), a lease held through a replica that is gone expires and is re-queued once by the
// others, and fencing by attempt holds across replicas.

import { afterEach, expect, test } from "bun:test";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import type { ReferenceControllerOptions } from "../../src/reference-controller/controller-options.ts";
import { FakeRunner, openController, openReplica, type Harness } from "./helpers.ts";

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.controller.close();
});

/** A runner registered through `registrar`, connected to `replica` once that replica knows it. */
async function runnerOn(replica: Harness, registrar: Harness, id: string): Promise<FakeRunner> {
  const apiKey = (await registrar.controller.registerRunner({ id, group: "default" })).apiKey;
  await registrar.settle();
  await eventually(() => (replica.controller.core.store.runners.has(id) ? true : undefined), 5_000, `replica knows runner ${id}`);
  return FakeRunner.connect(replica.controller, id, "default", apiKey);
}

forEachStore("replicas on one database", (store) => {
  async function replicas(n: number, extra: Partial<ReferenceControllerOptions> = {}): Promise<Harness[]> {
    const first = await openController(store, extra);
    const all = [first];
    for (let i = 1; i < n; i++) all.push(await openReplica(first, extra));
    open.push(...all);
    return all;
  }

  test("a job submitted on replica A is offered at once to a runner on replica B; a waiter on A wakes when it ends", async () => {
    const [a, b] = (await replicas(2)) as [Harness, Harness];
    const r = await runnerOn(b, b, "r1");
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    const job = a.controller.submitJob({ plugin: "echo" });
    await a.settle();
    const waiting = a.controller.waitForJob(job.id, 10_000);
    const offer = await eventually(() => r.of("offer")[0], 5_000, "the offer on replica B");
    expect(offer.job).toMatchObject({ id: job.id, attempt: 1 });
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "succeeded", output: { via: "b" }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    expect(await waiting).toMatchObject({ status: "succeeded", output: { via: "b" } });
  }, 30_000);

  test("two replicas leasing the same job send one offer: the compare-and-swap that loses withdraws its offer and returns the credit", async () => {
    const [a, b, c] = (await replicas(3)) as [Harness, Harness, Harness];
    const ra = await runnerOn(a, a, "ra");
    const rb = await runnerOn(b, b, "rb");
    const job = c.controller.submitJob({ plugin: "echo" });
    await c.settle();
    await eventually(() => (a.controller.core.queuedCount() === 1 && b.controller.core.queuedCount() === 1 ? true : undefined), 5_000, "both replicas see the job queued");
    // Credit on both in the same turn: each leases the job in memory before either commits.
    ra.send({ type: "credit", slots: 1 });
    rb.send({ type: "credit", slots: 1 });
    await Promise.all([a.settle(), b.settle()]);
    await eventually(() => (ra.session.credit + rb.session.credit === 1 ? true : undefined), 5_000, "the losing replica's credit back");
    const offers = [...ra.of("offer"), ...rb.of("offer")];
    expect(offers).toHaveLength(1);
    expect(offers[0]?.job).toMatchObject({ id: job.id, attempt: 1 });
    const [row] = await store.sql()<Array<{ attempt: number; runner_id: string; version: string }>>`SELECT attempt, runner_id, version FROM jobs WHERE id = ${job.id}`;
    expect({ attempt: row?.attempt, runner: row?.runner_id, version: Number(row?.version) }).toEqual({ attempt: 1, runner: ra.of("offer").length === 1 ? "ra" : "rb", version: 2 });
    const withdrawn = [...a.records, ...b.records].filter((x) => x.msg.includes("Offer withdrawn"));
    expect(withdrawn).toHaveLength(1);
    // The returned credit takes the next job.
    const next = c.controller.submitJob({ plugin: "echo" });
    await c.settle();
    await eventually(() => ([...ra.of("offer"), ...rb.of("offer")].length === 2 ? true : undefined), 5_000, "the second offer");
    expect(new Set([...ra.of("offer"), ...rb.of("offer")].map((m) => m.job.id))).toEqual(new Set([job.id, next.id]));
  }, 30_000);

  test("a lease held through a replica that is gone expires and is re-queued once by the others; fencing refuses the old attempt on any replica", async () => {
    const [a, b, c] = (await replicas(3)) as [Harness, Harness, Harness];
    const r1 = await runnerOn(a, a, "r1");
    const job = a.controller.submitJob({ plugin: "echo" });
    r1.send({ type: "credit", slots: 1 });
    await a.settle();
    expect(r1.last("offer").job.attempt).toBe(1);
    await eventually(() => (b.controller.getJob(job.id)?.status === "leased" && c.controller.getJob(job.id)?.status === "leased" ? true : undefined), 5_000, "B and C see the lease");
    // Replica A goes away with its runner's lease in the database.
    await a.controller.close();
    open.splice(open.indexOf(a), 1);
    a.clock.advance(30_000);
    // Both survivors sweep in the same turn: each re-queues in memory, one write wins.
    b.controller.sweep();
    c.controller.sweep();
    await Promise.all([b.settle(), c.settle()]);
    const sql = store.sql();
    await eventually(async () => ((await sql`SELECT 1 FROM jobs WHERE id = ${job.id} AND status = 'queued'`).length === 1 ? true : undefined), 5_000, "re-queued");
    const [row] = await sql<Array<{ version: string; doc: { attempt: number; error?: { code: string } } }>>`SELECT version, doc FROM jobs WHERE id = ${job.id}`;
    // Inserted and leased in one batch (1), re-queued once (2): the other re-queue lost its compare-and-swap.
    expect({ version: Number(row?.version), attempt: row?.doc.attempt, error: row?.doc.error?.code }).toEqual({ version: 2, attempt: 1, error: "lease_expired" });
    expect([...b.records, ...c.records].filter((x) => x.msg.includes("changed by another replica"))).toHaveLength(1);
    await eventually(() => (b.controller.getJob(job.id)?.status === "queued" && c.controller.getJob(job.id)?.status === "queued" ? true : undefined), 5_000, "both see it queued");
    // Another runner on C takes attempt 2.
    const r2 = await runnerOn(c, c, "r2");
    r2.send({ type: "credit", slots: 1 });
    await c.settle();
    await eventually(() => r2.of("offer")[0], 5_000, "attempt 2 offered");
    expect(r2.last("offer").job).toMatchObject({ id: job.id, attempt: 2 });
    await eventually(() => (b.controller.getJob(job.id)?.attempt === 2 ? true : undefined), 5_000, "B sees attempt 2");
    // The first runner reconnects to B and reports attempt 1: refused there.
    const late = new FakeRunner(b.controller, "r1");
    late.apiKey = r1.apiKey;
    late.reconnect();
    late.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "succeeded", output: { stale: true }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    expect(late.last("result_ack")).toMatchObject({ accepted: false, reason: "stale_attempt" });
    r2.send({ type: "result", jobId: job.id, attempt: 2, lastSeq: 0, status: "succeeded", output: { fresh: true }, startedAt: 1, finishedAt: 2 });
    await c.settle();
    await eventually(() => (b.controller.getJob(job.id)?.status === "succeeded" ? true : undefined), 5_000, "B sees the result");
    expect(b.controller.getJob(job.id)).toMatchObject({ attempt: 2, output: { fresh: true } });
  }, 30_000);

  test("three replicas with credit for a burst of jobs lease each exactly once, and none fails on the contention", async () => {
    const all = await replicas(3);
    const runners = await Promise.all(all.map((h, i) => runnerOn(h, h, `r${i}`)));
    const ids = Array.from({ length: 150 }, () => all[0]!.controller.submitJob({ plugin: "echo" }).id);
    await all[0]!.settle();
    await eventually(() => (all.every((h) => h.controller.core.queuedCount() === ids.length) ? true : undefined), 10_000, "every replica sees the burst");
    // Credit on every replica in one turn: each leases the same head of the queue in memory.
    for (const r of runners) r.send({ type: "credit", slots: 100 });
    await eventually(() => (runners.reduce((n, r) => n + r.of("offer").length, 0) >= ids.length ? true : undefined), 20_000, "every job offered");
    await Promise.all(all.map((h) => h.settle()));
    const offered = runners.flatMap((r) => r.of("offer").map((m) => m.job.id));
    expect(offered).toHaveLength(ids.length);
    expect(new Set(offered)).toEqual(new Set(ids));
    expect(all.map((h) => h.controller.health.state)).toEqual(["ready", "ready", "ready"]);
    // Each runner holds exactly the jobs the database says it holds, and no more than its credit.
    const rows = await store.sql()<Array<{ runner_id: string; n: number }>>`SELECT runner_id, count(*)::int AS n FROM jobs GROUP BY runner_id ORDER BY runner_id`;
    expect(rows.map((r) => [r.runner_id, r.n])).toEqual(runners.map((r) => [r.id, r.of("offer").length]).filter(([, n]) => n !== 0).sort());
    for (const r of runners) expect(r.of("offer").length + r.session.credit).toBe(100);
  }, 60_000);

  test("the event quotas hold for the database as a whole: two replicas storing events together stay within eventJournalMaxBytes, and a job moved between replicas within jobLogMaxBytes", async () => {
    const [a, b] = (await replicas(2, { eventJournalMaxBytes: 7_000, jobLogMaxBytes: 5_000 })) as [Harness, Harness];
    const ra = await runnerOn(a, a, "ra");
    const rb = await runnerOn(b, b, "rb");
    const first = a.controller.submitJob({ plugin: "echo" });
    ra.send({ type: "credit", slots: 1 });
    await a.settle();
    await eventually(() => (b.controller.getJob(first.id)?.status === "leased" ? true : undefined), 5_000, "B sees the first lease");
    const second = b.controller.submitJob({ plugin: "echo" });
    rb.send({ type: "credit", slots: 1 });
    await b.settle();
    expect([ra.last("offer").job.id, rb.last("offer").job.id]).toEqual([first.id, second.id]);
    const line = (seq: number) => [{ ts: seq, level: "info" as const, msg: `${seq} ${"x".repeat(1_000)}` }];
    // About 4,200 bytes through each replica: under either quota for each alone, past the total together.
    for (let seq = 1; seq <= 4; seq++) {
      ra.send({ type: "log", jobId: first.id, attempt: 1, seq, lines: line(seq) });
      rb.send({ type: "log", jobId: second.id, attempt: 1, seq, lines: line(seq) });
      await Promise.all([a.settle(), b.settle()]);
    }
    const sql = store.sql();
    type Row = { job_id: string; content: string; markers: number; rows: number };
    const stored = async () =>
      await sql<Row[]>`SELECT job_id, coalesce(sum(bytes) FILTER (WHERE NOT truncated AND body->'lines' <> '[]'::jsonb), 0)::bigint AS content, (count(*) FILTER (WHERE truncated))::int AS markers, count(*)::int AS rows FROM job_events GROUP BY job_id`;
    let rows: Row[] = [...(await stored())];
    expect(rows.reduce((n, r) => n + Number(r.content), 0)).toBeLessThanOrEqual(7_000);
    // One marker in each job that passed the quota, whichever replica stored it.
    expect(rows.every((r) => r.markers <= 1) && rows.some((r) => r.markers === 1)).toBe(true);
    // Every event keeps its place and is acked, truncated or not.
    expect(rows.map((r) => r.rows)).toEqual([4, 4]);
    expect([ra.last("ack").seq, rb.last("ack").seq]).toEqual([4, 4]);
    const [totals] = await sql<Array<{ bytes: string; sum: string }>>`SELECT bytes, (SELECT sum(bytes) FROM job_events)::bigint AS sum FROM job_event_totals`;
    expect(Number(totals?.bytes)).toBe(Number(totals?.sum));

    // A third job's runner moves from A to B halfway: its events through both stay within the per-job quota.
    await sql`TRUNCATE job_events, job_event_sizes, job_event_totals`;
    const third = a.controller.submitJob({ plugin: "echo" });
    ra.send({ type: "credit", slots: 1 });
    await a.settle();
    await eventually(() => ra.of("offer").find((m) => m.job.id === third.id), 5_000, "the third job offered");
    for (let seq = 1; seq <= 3; seq++) ra.send({ type: "log", jobId: third.id, attempt: 1, seq, lines: line(seq) });
    await a.settle();
    await eventually(() => (b.controller.core.logs.cursor(third.id, 1).highestSeq === 3 ? true : undefined), 5_000, "B knows the events stored through A");
    const moved = new FakeRunner(b.controller, "ra");
    moved.apiKey = ra.apiKey;
    moved.reconnect();
    for (let seq = 4; seq <= 6; seq++) moved.send({ type: "log", jobId: third.id, attempt: 1, seq, lines: line(seq) });
    await b.settle();
    rows = (await stored()).filter((r) => r.job_id === third.id);
    expect(rows.map((r) => ({ rows: r.rows, markers: r.markers }))).toEqual([{ rows: 6, markers: 1 }]);
    expect(Number(rows[0]?.content)).toBeLessThanOrEqual(5_000);
    expect(moved.last("ack").seq).toBe(6);
  }, 30_000);

  test("a runner deregistered through replica A loses its session on replica B (4401) and its key there", async () => {
    const [a, b] = (await replicas(2)) as [Harness, Harness];
    const r = await runnerOn(b, a, "r1");
    const res = await a.controller.app.request("/api/v1/runners/r1", { method: "DELETE", headers: { authorization: "Bearer test-admin-token" } });
    expect(res.status).toBe(200);
    await a.settle();
    await eventually(() => r.closedWith, 5_000, "the session on B closed");
    expect(r.closedWith).toBe(4401);
    expect(b.controller.runners.authenticate("r1", r.apiKey)).toBeUndefined();
  }, 30_000);

  test("a job's callback token from one replica opens its callback on another (the key derives from the shared secrets key)", async () => {
    const [a, b] = (await replicas(2)) as [Harness, Harness];
    const job = a.controller.submitJob({ plugin: "manual" });
    await a.settle();
    await eventually(() => b.controller.getJob(job.id), 5_000, "B knows the job");
    const token = a.controller.callbackTokens.token(job.id);
    expect(b.controller.callbackTokens.token(job.id)).toBe(token);
    const res = await b.controller.app.request(`/callback/v1/jobs/${job.id}/approval`, { headers: { authorization: `Bearer ${token}` } });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { decision: "pending" } });
  }, 30_000);

  test("a job another replica created that this one has not heard of yet is read from the database, not answered 404", async () => {
    const [a] = (await replicas(1)) as [Harness];
    // A row as another replica writes it, whose NOTIFY this replica has not had yet.
    const id = "job_readthrough000000000001";
    const doc = { id, group: "default", plugin: "echo", action: "run", input: null, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq: 1_000_000 };
    const sql = store.sql();
    await sql`INSERT INTO jobs (id, grp, status, attempt, queue_seq, version, doc) VALUES (${id}, 'default', 'queued', 0, 1000000, 1, ${sql.json(doc as never)})`;
    const headers = { authorization: "Bearer test-admin-token" };
    const res = await a.controller.app.request(`/api/v1/jobs/${id}`, { headers });
    expect({ status: res.status, body: await res.json() }).toMatchObject({ status: 200, body: { id, status: "queued" } });
    // Now in this replica's view, queued for its runners like any job it heard of.
    expect(a.controller.core.queuedCount()).toBe(1);
    expect((await a.controller.app.request(`/api/v1/jobs/${id}/logs`, { headers })).status).toBe(200);
    // An id the database does not have either is still 404.
    expect((await a.controller.app.request("/api/v1/jobs/job_nosuchjob", { headers })).status).toBe(404);
    // A pipeline's callback lands on a replica that has not heard of its job either.
    const other = "job_readthrough000000000002";
    await sql`INSERT INTO jobs (id, grp, status, attempt, queue_seq, version, doc) VALUES (${other}, 'default', 'queued', 0, 1000001, 1, ${sql.json({ ...doc, id: other, queueSeq: 1_000_001 } as never)})`;
    const callback = await a.controller.app.request(`/callback/v1/jobs/${other}/approval`, { headers: { authorization: `Bearer ${a.controller.callbackTokens.token(other)}` } });
    expect({ status: callback.status, body: await callback.json() }).toEqual({ status: 200, body: { decision: "pending" } });
  }, 30_000);
}, ["postgres"]);
