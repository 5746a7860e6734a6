// Event NOTIFYs replica B missed or has not had yet. Until 2026-12-02, on re-LISTEN B resynced
// (pg-listen.ts onListen -> store.resync()) job rows and runners only, never the event index: a
// runner that then moved to B had its next events refused as a gap and its result answered
// events_missing forever. Now resync reloads every job's index, and a result is answered
// events_missing only after its job's index was read from the database.
import { afterEach, expect, test } from "bun:test";
import type { PgStore } from "../../src/reference-controller/postgres/pg-store.ts";
import type { PgJobLogs } from "../../src/reference-controller/postgres/pg-job-logs.ts";
import { eventually } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, openReplica, type Harness } from "../reference-controller/helpers.ts";

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.controller.close();
});

forEachStore("event index after missed notifications", (store) => {
  test("B misses A's event NOTIFYs, re-LISTENs and resyncs: its event cursor reaches the stored events (the runner moving to B goes on from seq 4)", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const apiKey = (await a.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    const r = FakeRunner.connect(a.controller, "r1", "default", apiKey);
    const job = a.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await a.settle();
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await a.settle();
    await eventually(() => (b.controller.getJob(job.id)?.status === "running" ? true : undefined), 5_000, "B sees running");

    // B's listening connection is "down": what A NOTIFYs now never reaches B.
    const bStore = b.controller.core.store as PgStore;
    const bLogs = b.controller.core.logs as unknown as PgJobLogs;
    let missing = true;
    const reloadJobs = bStore.reloadJobs.bind(bStore);
    bStore.reloadJobs = async (ids, force = false) => (missing && !force ? undefined : reloadJobs(ids, force));
    const reloadIndex = bLogs.reloadIndex.bind(bLogs);
    bLogs.reloadIndex = async (ids) => (missing ? undefined : reloadIndex(ids));
    let resyncs = 0;
    const resync = bStore.resync.bind(bStore);
    bStore.resync = async () => { await resync(); resyncs++; };

    for (let seq = 1; seq <= 3; seq++) r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines: [{ ts: 1, level: "info", msg: `line ${seq}` }] });
    await a.settle();
    expect(r.last("ack").seq).toBe(3);
    await new Promise((res) => setTimeout(res, 300));
    missing = false;

    // The listening connection is re-made: notifications may have been missed, so B resyncs.
    await store.sql()`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
    await eventually(() => (resyncs > 0 ? true : undefined), 15_000, "B resynced after re-LISTEN");

    // The runner moves to B (A went away): its next event is seq 4, its result says lastSeq 4.
    const rb = FakeRunner.connect(b.controller, "r1", "default", apiKey);
    rb.send({ type: "log", jobId: job.id, attempt: 1, seq: 4, lines: [{ ts: 1, level: "info", msg: "line 4" }] });
    await b.settle();
    rb.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 4, status: "succeeded", output: { ok: true }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    expect({ cursor: b.controller.core.logs.cursor(job.id, 1).highestSeq, ack: rb.last("ack").seq, result: rb.last("result_ack") }).toMatchObject({ cursor: 4, ack: 4, result: { accepted: true } });
  }, 60_000);

  test("B has not had A's event NOTIFYs yet: a result whose lastSeq is past B's cursor is accepted once B read the job's events, not answered events_missing", async () => {
    const a = await openController(store);
    const b = await openReplica(a);
    open.push(a, b);
    const apiKey = (await a.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    const r = FakeRunner.connect(a.controller, "r1", "default", apiKey);
    const job = a.controller.submitJob({ plugin: "echo" });
    r.send({ type: "credit", slots: 1 });
    await a.settle();
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    await a.settle();
    await eventually(() => (b.controller.getJob(job.id)?.status === "running" ? true : undefined), 5_000, "B sees running");
    const bLogs = b.controller.core.logs as unknown as PgJobLogs;
    bLogs.reloadIndex = async () => {}; // B's NOTIFY-driven index reloads never arrive
    for (let seq = 1; seq <= 3; seq++) r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines: [{ ts: 1, level: "info", msg: `line ${seq}` }] });
    await a.settle();
    expect(r.last("ack").seq).toBe(3);
    const rb = FakeRunner.connect(b.controller, "r1", "default", apiKey);
    rb.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 3, status: "succeeded", output: { ok: true }, startedAt: 1, finishedAt: 2 });
    await b.settle();
    await eventually(() => rb.of("result_ack")[0], 5_000, "B answers the result");
    expect(rb.of("result_ack")).toMatchObject([{ accepted: true }]);
  }, 30_000);
}, ["postgres"]);
