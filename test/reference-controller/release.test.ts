// `release`: a runner gives back an offered job it held and never started (local prefetch,
// docs/protocol.md "Local prefetch"): re-queued at once, no attempt used, fenced like the rest.

import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, leaseOne, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

forEachStore("release", (store) => {
  test("the session answer lists the release feature, so runners hold offered jobs (local prefetch)", async () => {
    h = await openController(store);
    const apiKey = (await h.controller.registerRunner({ id: "r1", group: "default" })).apiKey;
    const answer = h.controller.sessions.create({ v: 1, runnerId: "r1", group: "default", version: "test", transport: "websocket" }, apiKey);
    expect(answer.features).toEqual(["release"]);
  });

  test("release re-queues a held job at once without using up an attempt, however often", async () => {
    h = await openController(store, { maxAttempts: 1 });
    const { r, job } = await leaseOne(h);
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(r.last("offer").job).toMatchObject({ id: job.id, attempt });
      r.send({ type: "release", jobId: job.id, attempt });
      await h.settle();
      // Queued again at once (no lease expiry), not failed although maxAttempts is 1.
      expect(h.controller.getJob(job.id)).toMatchObject({ status: "queued", attempt, releasedLeases: attempt, error: { code: "job_released" } });
      r.send({ type: "credit", slots: 1 });
      await h.settle();
    }
    // The attempt still grows: fencing stays monotonic. Run now, it succeeds on its one counted attempt.
    r.send({ type: "accept", jobId: job.id, attempt: 4 });
    r.send({ type: "result", jobId: job.id, attempt: 4, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "succeeded", attempt: 4 });
  });

  test("release is free while a reject beside it still counts toward maxAttempts", async () => {
    h = await openController(store, { maxAttempts: 2 });
    const { r, job } = await leaseOne(h);
    r.send({ type: "release", jobId: job.id, attempt: 1 });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    r.send({ type: "reject", jobId: job.id, attempt: 2, error: { code: "plugin_unknown", message: "no such plugin" } });
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    // One release (free) and one reject (counted) of 2: a third lease, then a second reject fails it.
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", attempt: 3 });
    r.send({ type: "reject", jobId: job.id, attempt: 3, error: { code: "plugin_unknown", message: "no such plugin" } });
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "failed", error: { code: "plugin_unknown" } });
  });

  test("release is fenced: another runner's, a stale attempt's and an accepted job's release", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    const other = FakeRunner.connect(h.controller, "r2");
    other.send({ type: "release", jobId: job.id, attempt: 1 });
    r.send({ type: "release", jobId: job.id, attempt: 2 });
    r.send({ type: "release", jobId: "job_unknown", attempt: 1 });
    await h.settle();
    expect(h.controller.getJob(job.id)).toMatchObject({ status: "leased", runnerId: "r1", attempt: 1 });
    expect(h.controller.core.counters.staleEvents).toBe(3);
    // Accepted, the job may have run: a release then counts like a reject.
    r.send({ type: "accept", jobId: job.id, attempt: 1 });
    r.send({ type: "release", jobId: job.id, attempt: 1 });
    await h.settle();
    const after = h.controller.getJob(job.id);
    expect(after).toMatchObject({ status: "queued", attempt: 1, error: { code: "job_released" } });
    expect(after?.releasedLeases).toBeUndefined();
  });

  test("release of a held job being cancelled ends it cancelled", async () => {
    h = await openController(store);
    const { r, job } = await leaseOne(h);
    await h.controller.cancelJob(job.id);
    await h.settle();
    expect(r.last("cancel")).toMatchObject({ jobId: job.id, attempt: 1 });
    r.send({ type: "release", jobId: job.id, attempt: 1 });
    await h.settle();
    expect(h.controller.getJob(job.id)?.status).toBe("cancelled");
  });
});
