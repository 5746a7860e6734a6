// A runner whose session moved to replica B (A went away, or its connection broke) before B heard
// A's last change of its job. Until 2026-12-02 B answered from its stale view with a final
// refusal: result_ack {accepted:false, reason: stale_attempt | unknown_job} (the runner drops the
// result: job-outbox.ts resultAnswered -> "done") and heartbeat_ack ok:false (the runner aborts the
// job), although the database said the runner held the current lease. B now reads the job's row
// before refusing (stale-view-recheck.ts). B's NOTIFY-driven reloads are held to make it repeatable.
import { afterEach, expect, test } from "bun:test";
import type { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, openReplica, type Harness } from "../reference-controller/helpers.ts";

const open: Harness[] = [];
const gates: Array<() => void> = [];
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  for (const h of open.splice(0)) await h.controller.close().catch(() => {});
});

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

forEachStore("refusals from a stale view", (store) => {
  async function setup(knowsJob: boolean) {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const apiKey = (await a.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    await new Promise((r) => setTimeout(r, 300));
    let release: (() => void) | undefined;
    if (!knowsJob) release = holdNotifications(b);
    const job = a.controller.submitJob({ plugin: "echo" });
    await a.settle();
    if (knowsJob) {
      await eventually(() => (b.controller.core.queuedCount() === 1 ? true : undefined), 5_000, "B sees the job queued");
      release = holdNotifications(b);
    }
    const ra = FakeRunner.connect(a.controller, "r1", "default", apiKey);
    ra.send({ type: "credit", slots: 1 });
    await a.settle();
    expect(ra.last("offer").job.id).toBe(job.id);
    ra.send({ type: "accept", jobId: job.id, attempt: 1 });
    await a.settle();
    // The runner's session moves to B (A's connection broke); B has not heard of the lease yet.
    const rb = FakeRunner.connect(b.controller, "r1", "default", apiKey);
    return { a, b, rb, jobId: job.id, release: release as () => void };
  }

  async function stored(jobId: string) {
    const [row] = await store.sql()<Array<{ status: string; attempt: number; runner_id: string | null }>>`SELECT status, attempt, runner_id FROM jobs WHERE id = ${jobId}`;
    return row;
  }

  test("result for the current lease sent to B (which knew the job queued, not yet leased): accepted once B read the job, never refused stale_attempt", async () => {
    const { b, rb, jobId } = await setup(true);
    expect(await stored(jobId)).toMatchObject({ status: "running", attempt: 1, runner_id: "r1" });
    rb.send({ type: "result", jobId, attempt: 1, lastSeq: 0, status: "succeeded", output: { ok: 1 }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    // Not a final refusal: accepted (after reading the row), or no answer yet (resent later).
    expect(rb.of("result_ack").filter((m) => !m.accepted)).toEqual([]);
    await eventually(() => (rb.of("result_ack").some((m) => m.accepted) ? true : undefined), 5_000, "B accepts the result");
    expect(await stored(jobId)).toMatchObject({ status: "succeeded" });
  }, 30_000);

  test("result for a job B has not heard of at all: accepted once B read the job, never refused unknown_job", async () => {
    const { b, rb, jobId } = await setup(false);
    rb.send({ type: "result", jobId, attempt: 1, lastSeq: 0, status: "succeeded", output: { ok: 1 }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    expect(rb.of("result_ack").filter((m) => !m.accepted)).toEqual([]);
    await eventually(() => (rb.of("result_ack").some((m) => m.accepted) ? true : undefined), 5_000, "B accepts the result");
    expect(await stored(jobId)).toMatchObject({ status: "succeeded" });
  }, 30_000);

  test("heartbeat for the current lease sent to B: answered ok once B read the job, never ok:false", async () => {
    const { b, rb, jobId } = await setup(true);
    rb.send({ type: "heartbeat", leases: [{ jobId, attempt: 1 }] });
    await b.settle();
    expect(rb.of("heartbeat_ack").flatMap((m) => m.leases).filter((l) => !l.ok)).toEqual([]);
    await eventually(() => (rb.of("heartbeat_ack").flatMap((m) => m.leases).some((l) => l.ok) ? true : undefined), 5_000, "B extends the lease");
  }, 30_000);

  test("result for an attempt the stored row does not hold either: refused stale_attempt after B read the job (the re-read withholds nothing for good)", async () => {
    const { b, rb, jobId } = await setup(true);
    rb.send({ type: "result", jobId, attempt: 7, lastSeq: 0, status: "succeeded", output: { ok: 1 }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    await eventually(() => rb.of("result_ack")[0], 5_000, "B answers the result");
    expect(rb.of("result_ack")).toMatchObject([{ accepted: false, reason: "stale_attempt" }]);
  }, 30_000);
}, ["postgres"]);
