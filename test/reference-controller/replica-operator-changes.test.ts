// An operator's cancel, approval or rejection racing another replica's change of the same job
// (PostgreSQL, two replicas on one database): the write's compare-and-swap loses, and the answer
// must be the job as stored, not what this replica wrote and lost. A job still cancellable (or
// undecided) is changed again on the winner's row; one that finished (or was decided) meanwhile is
// a 409 naming its real state.
//
// Deterministic: replica A's NOTIFY-driven reloads are held (A "has not heard yet") until the
// cancel was answered, so B's change is always in the database before A's cancel is written.

import { afterEach, expect, test } from "bun:test";
import type { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, openReplica, type Harness } from "./helpers.ts";

const open: Harness[] = [];
const gates: Array<() => void> = [];
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  for (const h of open.splice(0)) await h.controller.close();
});

const headers = { authorization: "Bearer test-admin-token" };

/** Holds what replica `h` hears by NOTIFY (not the reload of a compare-and-swap it lost) until the returned function is called. */
function holdNotifications(h: Harness): () => void {
  const store = h.controller.core.store as PgStore;
  const reload = store.reloadJobs.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  gates.push(release);
  store.reloadJobs = async (ids, force = false) => {
    if (!force) await gate;
    return reload(ids, force);
  };
  return release;
}

forEachStore("an operator's change racing another replica", (store) => {
  async function twoReplicas(): Promise<{ a: Harness; b: Harness; r: FakeRunner; jobId: string }> {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const apiKey = (await b.controller.registerRunner({ id: "rb", group: "default" })).apiKey;
    const r = FakeRunner.connect(b.controller, "rb", "default", apiKey);
    const job = a.controller.submitJob({ plugin: "echo" });
    await a.settle();
    await eventually(() => (b.controller.core.queuedCount() === 1 ? true : undefined), 5_000, "replica B sees the job queued");
    return { a, b, r, jobId: job.id };
  }

  async function stored(jobId: string): Promise<string | undefined> {
    const [row] = await store.sql()<Array<{ status: string }>>`SELECT status FROM jobs WHERE id = ${jobId}`;
    return row?.status;
  }

  test("POST /jobs/:id/cancel on replica A of a job replica B leased a moment before: A's write loses, the cancel is made again on B's row and answered as stored (cancelling, the runner on B told)", async () => {
    const { a, b, r, jobId } = await twoReplicas();
    const release = holdNotifications(a);
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    expect(r.last("offer").job.id).toBe(jobId);
    expect(await stored(jobId)).toBe("leased");
    // A has not heard of the lease: its view still says queued, so its cancel is `cancelled`, written on a stale version.
    expect(a.controller.getJob(jobId)?.status).toBe("queued");
    const res = await a.controller.app.request(`/api/v1/jobs/${jobId}/cancel`, { method: "POST", headers });
    const body = (await res.json()) as { status: string };
    expect({ status: res.status, job: body.status, stored: await stored(jobId) }).toEqual({ status: 200, job: "cancelling", stored: "cancelling" });
    expect(a.controller.getJob(jobId)?.status).toBe("cancelling");
    release();
    // B hears of it and tells its runner; the runner's report ends the job cancelled.
    const cancel = await eventually(() => r.of("cancel")[0], 5_000, "the cancel on replica B");
    expect(cancel).toMatchObject({ jobId, attempt: 1 });
  }, 30_000);

  test("POST /jobs/:id/cancel on replica A of a job that succeeded through replica B a moment before: 409 naming its real state, not `cancelling`", async () => {
    const { a, b, r, jobId } = await twoReplicas();
    r.send({ type: "credit", slots: 1 });
    r.send({ type: "accept", jobId, attempt: 1 });
    await b.settle();
    await eventually(() => (a.controller.getJob(jobId)?.status === "running" ? true : undefined), 5_000, "replica A sees the job running");
    const release = holdNotifications(a);
    r.send({ type: "result", jobId, attempt: 1, lastSeq: 0, status: "succeeded", output: { done: true }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    expect(r.last("result_ack").accepted).toBe(true);
    expect(a.controller.getJob(jobId)?.status).toBe("running");
    const res = await a.controller.app.request(`/api/v1/jobs/${jobId}/cancel`, { method: "POST", headers });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    expect({ status: res.status, code: body.error?.code, stored: await stored(jobId) }).toEqual({ status: 409, code: "conflict", stored: "succeeded" });
    expect(body.error?.message).toContain("already succeeded");
    expect(a.controller.getJob(jobId)).toMatchObject({ status: "succeeded", output: { done: true } });
    release();
  }, 30_000);

  test("a finish on replica A whose write lost (its cancel of a job B had leased) leaves A's retention list: past jobRetentionMs A prunes nothing, the live job's row stays", async () => {
    const { a, b, r, jobId } = await twoReplicas();
    const release = holdNotifications(a);
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    // A's first write was a finish (`cancelled`); it lost, and the job is live (`cancelling`) on the second.
    expect((await a.controller.cancelJob(jobId)).status).toBe("cancelling");
    release();
    a.clock.advance(a.controller.core.settings.jobRetentionMs + 1);
    expect(a.controller.core.pruneFinished()).toBe(0);
    await a.settle();
    expect(await stored(jobId)).toBe("cancelling");
    expect(a.controller.getJob(jobId)?.status).toBe("cancelling");
  }, 30_000);

  test("ReferenceController.cancelJob() on replica A of a job replica B leased a moment before resolves with the stored job (cancelling), not the lost `cancelled`", async () => {
    const { a, b, r, jobId } = await twoReplicas();
    const release = holdNotifications(a);
    r.send({ type: "credit", slots: 1 });
    await b.settle();
    expect(a.controller.getJob(jobId)?.status).toBe("queued");
    expect((await a.controller.cancelJob(jobId)).status).toBe("cancelling");
    expect(await stored(jobId)).toBe("cancelling");
    release();
  }, 30_000);

  async function running(): Promise<{ a: Harness; b: Harness; r: FakeRunner; jobId: string }> {
    const race = await twoReplicas();
    race.r.send({ type: "credit", slots: 1 });
    race.r.send({ type: "accept", jobId: race.jobId, attempt: 1 });
    await race.b.settle();
    await eventually(() => (race.a.controller.getJob(race.jobId)?.status === "running" ? true : undefined), 5_000, "replica A sees the job running");
    return race;
  }

  async function approval(jobId: string): Promise<string | undefined> {
    const [row] = await store.sql()<Array<{ decision: string | null }>>`SELECT doc->'approval'->>'decision' AS decision FROM jobs WHERE id = ${jobId}`;
    return row?.decision ?? undefined;
  }

  test("POST /jobs/:id/approve on replica A while replica B extended the job's lease a moment before: A's write loses, the approval is made again and stored, not answered and dropped", async () => {
    const { a, b, r, jobId } = await running();
    const release = holdNotifications(a);
    r.send({ type: "heartbeat", leases: [{ jobId, attempt: 1 }] });
    await b.settle();
    expect(r.last("heartbeat_ack").leases[0]?.ok).toBe(true);
    const res = await a.controller.app.request(`/api/v1/jobs/${jobId}/approve`, { method: "POST", headers });
    const body = (await res.json()) as { approval?: { decision: string } };
    expect({ status: res.status, decision: body.approval?.decision, stored: await approval(jobId) }).toEqual({ status: 200, decision: "approved", stored: "approved" });
    release();
  }, 30_000);

  test("POST /jobs/:id/reject on replica A of a job approved through replica B a moment before: 409 naming the decision that stands, not `rejected`", async () => {
    const { a, b, jobId } = await running();
    const release = holdNotifications(a);
    expect((await b.controller.app.request(`/api/v1/jobs/${jobId}/approve`, { method: "POST", headers })).status).toBe(200);
    expect(a.controller.getJob(jobId)?.approval).toBeUndefined();
    const res = await a.controller.app.request(`/api/v1/jobs/${jobId}/reject`, { method: "POST", headers });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    expect({ status: res.status, code: body.error?.code, stored: await approval(jobId) }).toEqual({ status: 409, code: "conflict", stored: "approved" });
    expect(body.error?.message).toContain("already approved");
    release();
  }, 30_000);

  test("a pipeline's POST /callback/v1/jobs/:id/result on replica A while replica B extended the job's lease a moment before: A's write loses, the result is written again and stored, not acknowledged and dropped", async () => {
    const { a, b, r, jobId } = await running();
    const release = holdNotifications(a);
    r.send({ type: "heartbeat", leases: [{ jobId, attempt: 1 }] });
    await b.settle();
    const res = await a.controller.app.request(`/callback/v1/jobs/${jobId}/result`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.controller.callbackTokens.token(jobId)}`, "content-type": "application/json" },
      body: JSON.stringify({ status: "succeeded", output: { pipeline: 7 } }),
    });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { accepted: true } });
    const [row] = await store.sql()<Array<{ result: { status: string; output: unknown } | null }>>`SELECT doc->'callbackResult' AS result FROM jobs WHERE id = ${jobId}`;
    expect(row?.result).toMatchObject({ status: "succeeded", output: { pipeline: 7 } });
    release();
  }, 30_000);
}, ["postgres"]);
