// What only the PostgreSQL store does, against a real server: one transaction per batch with a
// NOTIFY of the changed jobs (delivered on commit), and a job write guarded by its row version
// (compare-and-swap) that loses to another writer and takes the database's row instead, without
// acknowledging what did not land.

import { afterEach, expect, test } from "bun:test";
import { JOBS_CHANNEL, PendingBatch, writeBatch } from "../../src/reference-controller/postgres/pg-batch.ts";
import { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import { GroupCommit } from "../../src/reference-controller/group-commit.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, leaseOne, openController, type Harness } from "./helpers.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.controller.close();
  h = undefined;
});

forEachStore("PostgreSQL store", (store) => {
  test("one turn's jobs are written in one transaction, and NOTIFY names them once it committed", async () => {
    // The real batching (one flush per event-loop turn), not the tests' flush per change.
    h = await openController(store, { commit: {} });
    const sql = store.sql();
    const payloads: string[] = [];
    const listener = await sql.listen(JOBS_CHANNEL, (payload) => void payloads.push(payload));
    const ids = [1, 2, 3].map(() => h!.controller.submitJob({ plugin: "echo" }).id);
    // Applied in memory at once, not in the database before the batch commits.
    expect(h.controller.getJob(ids[0] as string)?.status).toBe("queued");
    await h.controller.durable();
    const rows = await sql<Array<{ id: string; version: string; status: string; xmin: string }>>`SELECT id, version, status, xmin::text FROM jobs ORDER BY queue_seq`;
    expect(rows.map((r) => [r.id, Number(r.version), r.status])).toEqual(ids.map((id) => [id, 1, "queued"]));
    // One transaction: the three rows carry one transaction id.
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    for (let i = 0; i < 100 && payloads.length === 0; i++) await Bun.sleep(10);
    const store_ = h.controller.core.store as PgStore;
    expect(payloads).toHaveLength(1);
    const [replica, named] = (payloads[0] as string).split(":");
    expect({ replica, named: named?.split(",").sort() }).toEqual({ replica: store_.replicaId, named: [...ids].sort() });
    await listener.unlisten();
  });

  test("a job changed by another writer makes this one's compare-and-swap lose: it takes the database's row, its own write is dropped", async () => {
    h = await openController(store);
    const sql = store.sql();
    const job = h.controller.submitJob({ plugin: "echo", input: { mine: true } });
    await h.controller.durable();
    // Another replica's write: a new version of the row.
    await sql`UPDATE jobs SET version = version + 1, doc = jsonb_set(doc, '{input}', '{"theirs": true}') WHERE id = ${job.id}`;
    const pg = h.controller.core.store as PgStore;
    expect(pg.versionOf(job.id)).toBe(1);
    // The core's cancel: applied in memory at once, its batch not yet committed (controller.cancelJob() awaits it).
    h.controller.core.cancelJob(job.id);
    expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
    await h.settle();
    const [row] = await sql<Array<{ version: string; status: string }>>`SELECT version, status FROM jobs WHERE id = ${job.id}`;
    expect({ version: Number(row?.version), status: row?.status }).toEqual({ version: 2, status: "queued" });
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", input: { theirs: true } });
    expect(pg.versionOf(job.id)).toBe(2);
    expect(h.records.some((r) => r.msg.includes("changed by another replica"))).toBe(true);
  });

  test("a result written on a stale view (another replica cancelled the job first) is not acknowledged; resent, it is answered from the stored state", async () => {
    h = await openController(store);
    const sql = store.sql();
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    // Another replica's cancel, as a row change this controller has not heard of.
    await sql`UPDATE jobs SET version = version + 1, status = 'cancelling', doc = jsonb_set(doc, '{status}', '"cancelling"') WHERE id = ${job.id}`;
    const result = { type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "succeeded", output: { done: true }, startedAt: 1, finishedAt: 2 } as const;
    r.send(result);
    await h.settle();
    expect(r.of("result_ack")).toHaveLength(0);
    expect(h.controller.getJob(job.id)?.status).toBe("cancelling");
    r.send(result);
    await h.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    const [row] = await sql<Array<{ status: string }>>`SELECT status FROM jobs WHERE id = ${job.id}`;
    expect(row?.status).toBe("cancelled");
  });

  test("a heartbeat whose lease extension lost its compare-and-swap is answered from the reloaded job: refused when another replica ended it, extended again when it still holds", async () => {
    h = await openController(store);
    const sql = store.sql();
    const { r, job } = await leaseOne(h);
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await h.settle();
    // Another replica cancelled and finished the job, as a row change this controller has not heard of.
    await sql`UPDATE jobs SET version = version + 1, status = 'cancelled', lease_expires_at = NULL, doc = doc || '{"status": "cancelled"}'::jsonb WHERE id = ${job.id}`;
    r.send({ type: "heartbeat", leases: [{ jobId: job.id, attempt: 1 }] });
    await h.settle();
    await eventually(() => r.of("heartbeat_ack")[0], 5_000, "the heartbeat answered");
    expect(r.of("heartbeat_ack").map((m) => m.leases)).toEqual([[{ jobId: job.id, attempt: 1, ok: false, reason: "cancelled" }]]);
    expect(h.controller.getJob(job.id)?.status).toBe("cancelled");

    // A change that leaves the lease with this runner (another replica extended it): answered ok once extended on the new version.
    const second = h.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    r.send({ type: "accept", jobId: second.id, attempt: 1 });
    await h.settle();
    await sql`UPDATE jobs SET version = version + 1 WHERE id = ${second.id}`;
    r.send({ type: "heartbeat", leases: [{ jobId: second.id, attempt: 1 }] });
    await h.settle();
    await eventually(() => r.of("heartbeat_ack")[1], 5_000, "the second heartbeat answered");
    expect(r.of("heartbeat_ack")).toHaveLength(2);
    expect(r.last("heartbeat_ack").leases).toMatchObject([{ jobId: second.id, attempt: 1, ok: true }]);
    const [row] = await sql<Array<{ version: string; lease: string }>>`SELECT version, lease_expires_at AS lease FROM jobs WHERE id = ${second.id}`;
    expect({ version: Number(row?.version), lease: Number(row?.lease) }).toEqual({ version: 5, lease: r.last("heartbeat_ack").leases[0]?.leaseExpiresAt as number });
  });

  test("a change of a known runner (its last contact, its keys) never brings back a runner another replica deleted", async () => {
    h = await openController(store);
    const sql = store.sql();
    await h.controller.registerRunner({ id: "r1", group: "default" });
    await h.settle();
    expect((await sql`SELECT 1 FROM runners WHERE id = 'r1'`).length).toBe(1);
    // Deleted by another replica (a row change this controller has not heard of yet).
    await sql`DELETE FROM runners WHERE id = 'r1'`;
    const known = h.controller.core.store.runners.get("r1")!;
    h.controller.core.store.commit([{ t: "runner", runner: { ...known, lastSeenAt: known.registeredAt + 60_000 } }]);
    await h.settle();
    expect((await sql`SELECT 1 FROM runners WHERE id = 'r1'`).length).toBe(0);
    // A registration does write the row.
    await h.controller.registerRunner({ id: "r2", group: "default" });
    await h.settle();
    expect((await sql`SELECT 1 FROM runners WHERE id = 'r2'`).length).toBe(1);
  });

  test("a batch whose transaction never ends (a driver that lost the connection mid-write) fails the store after the timeout instead of holding every later batch", async () => {
    await store.options();
    const sql = store.sql();
    const hanging = new Proxy(sql, { get: (target, prop) => (prop === "begin" ? () => new Promise(() => {}) : Reflect.get(target, prop)) });
    const { logger } = memoryLogger();
    const commits = new GroupCommit({ logger });
    const pg = new PgStore({ sql: hanging as typeof sql, logger, commits, replicaId: "test", transactionTimeoutMs: 100 });
    pg.putJobs([{ id: "job_hanging", group: "default", plugin: "echo", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq: 1 }]);
    const failure = await pg.durable().then(() => undefined, (error: Error) => error.message);
    expect(failure).toContain("did not end within 100 ms");
    expect(commits.failure?.message).toContain("did not end within 100 ms");
  });

  test("a batch PostgreSQL aborts as a deadlock (replicas writing the same rows) is written again, not failed", async () => {
    await store.options();
    const sql = store.sql();
    let begins = 0;
    // The first transaction is aborted as PostgreSQL aborts a deadlock victim.
    const flaky = new Proxy(sql, {
      get(target, prop) {
        if (prop !== "begin") return Reflect.get(target, prop);
        return (fn: (tx: unknown) => Promise<unknown>) =>
          ++begins === 1 ? Promise.reject(Object.assign(new Error("deadlock detected"), { code: "40P01" })) : target.begin(fn as never);
      },
    });
    const batch = new PendingBatch();
    batch.putJob({ id: "job_deadlock", group: "default", plugin: "echo", action: "default", input: {}, status: "queued", attempt: 0, maxAttempts: 3, submittedAt: 1, queueSeq: 1 });
    const outcome = await writeBatch(flaky, "test", batch, () => 0);
    expect({ begins, version: outcome.versions.get("job_deadlock"), lost: outcome.lost }).toEqual({ begins: 2, version: 1, lost: [] });
    const refused = await writeBatch(new Proxy(sql, { get: (t, p) => (p === "begin" ? () => Promise.reject(Object.assign(new Error("syntax"), { code: "42601" })) : Reflect.get(t, p)) }), "test", batch, () => 1).catch((e: { code: string }) => e.code);
    expect(refused).toBe("42601");
  });

  test("an idle controller notices the database is gone (failed, changes and log reads refused with 503) and is ready again once it is back", async () => {
    h = await openController(store);
    const job = h.controller.submitJob({ plugin: "echo" });
    await h.settle();
    const server = store.server!;
    await server.stopAsync();
    try {
      // Nothing is written meanwhile: the ping (storePingMs, 200 ms here) finds the connection gone.
      await eventually(() => (h!.controller.health.state === "failed" ? true : undefined), 10_000, "failed");
      const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
      const submit = await h.controller.app.request("/api/v1/jobs", { method: "POST", headers: admin, body: JSON.stringify({ plugin: "echo" }) });
      expect({ status: submit.status, code: ((await submit.json()) as { error: { code: string } }).error.code }).toEqual({ status: 503, code: "store_unavailable" });
      const logs = await h.controller.app.request(`/api/v1/jobs/${job.id}/logs`, { headers: admin });
      const refusal = (await logs.json()) as { error: { code: string; message: string } };
      expect({ status: logs.status, code: refusal.error.code }).toEqual({ status: 503, code: "store_unavailable" });
    } finally {
      await server.startAsync();
    }
    await eventually(() => (h!.controller.health.state === "ready" ? true : undefined), 20_000, "ready again");
    expect(h.controller.getJob(job.id)?.status).toBe("queued");
    expect(h.records.some((r) => r.msg.includes("Reconnected to PostgreSQL"))).toBe(true);
  }, 40_000);
}, ["postgres"]);
