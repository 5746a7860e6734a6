import type { ControllerStore } from "../../src/reference-controller/store.ts";
import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { FinishedJobs } from "../../src/reference-controller/job-retention.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, makeController, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

const HOUR = 3_600_000;

/** Runs one job to success with one log line; returns its id. */
async function runOne(harness: Harness, runner: FakeRunner): Promise<string> {
  const job = harness.controller.submitJob({ plugin: "echo" });
  runner.send({ type: "credit", slots: 1 });
  await harness.settle();
  const attempt = runner.last("offer").job.attempt;
  runner.send({ type: "log", jobId: job.id, attempt, seq: 1, lines: [{ ts: 1, level: "info", msg: "done" }] });
  runner.send({ type: "result", jobId: job.id, attempt, lastSeq: 1, status: "succeeded", startedAt: 1, finishedAt: 2 });
  await harness.settle();
  return job.id;
}

forEachStore("retention", (store) => {
  test("ControllerCore.pruneFinished() drops a finished job and its logs after jobRetentionMs, not before", async () => {
    h = await openController(store, { jobRetentionMs: HOUR });
    const r = FakeRunner.connect(h.controller, "r1");
    const done = await runOne(h, r);
    const queued = h.controller.submitJob({ plugin: "echo" });
    h.clock.advance(HOUR - 1);
    h.controller.sweep();
    await h.settle();
    expect(h.controller.getJob(done)?.status).toBe("succeeded");
    h.clock.advance(1);
    h.controller.sweep();
    await h.settle();
    expect(h.controller.getJob(done)).toBeUndefined();
    expect((await h.controller.core.logs.read(done, 0, 10))).toEqual([]);
    expect(h.controller.getJob(queued.id)?.status).toBe("queued");
    const res = await h.controller.app.request(`/api/v1/jobs/${done}`, { headers: { authorization: "Bearer test-admin-token" } });
    expect(res.status).toBe(404);
    expect(h.records.some((x) => x.msg === "Pruned finished jobs past their retention" && x.jobs === 1)).toBe(true);
    // Gone from the store itself, not only from memory: a restart does not bring it back.
    h = await h.reopen();
    expect(h.controller.getJob(done)).toBeUndefined();
    expect(h.controller.getJob(queued.id)?.status).toBe("queued");
  });

  test("ReferenceController start prunes jobs whose retention ended while it was down", async () => {
    h = await openController(store, { jobRetentionMs: HOUR });
    const r = FakeRunner.connect(h.controller, "r1");
    const id = await runOne(h, r);
    h.clock.advance(2 * HOUR);
    h = await h.reopen();
    expect(h.controller.getJob(id)).toBeUndefined();
    expect(h.controller.core.logs.jobCount).toBe(0);
  });
});

test("ControllerStore.compact() leaves pruned jobs out of the snapshot, and a restart keeps them pruned", async () => {
  h = makeController({ jobRetentionMs: HOUR });
  const r = FakeRunner.connect(h.controller, "r1");
  const old = await runOne(h, r);
  h.clock.advance(HOUR);
  const recent = await runOne(h, r);
  h.controller.sweep();
  expect(h.controller.getJob(old)).toBeUndefined();
  // The journal still holds the pruned job's records: a replay must prune it again.
  h = await h.reopen();
  expect(h.controller.getJob(old)).toBeUndefined();
  expect(h.controller.getJob(recent)?.status).toBe("succeeded");
  expect((await h.controller.core.logs.read(recent, 0, 10))).toHaveLength(1);
  (h.controller.core.store as ControllerStore).compact();
  const snapshot = fs.readFileSync(path.join(h.dataDir, "controller", "snapshot.json"), "utf8");
  expect(snapshot).toContain(recent);
  expect(snapshot).not.toContain(old);
});

test("FinishedJobs.expired() returns jobs in finishing order and stops at the first one still kept", () => {
  const finished = new FinishedJobs(100);
  finished.add("a", 1_000);
  finished.add("b", 1_050);
  finished.add("c", 1_200);
  expect(finished.expired(1_099)).toEqual([]);
  expect(finished.expired(1_150)).toEqual(["a", "b"]);
  expect(finished.size).toBe(1);
  expect(() => new FinishedJobs(-1)).toThrow("Invalid job retention -1 ms");
});
