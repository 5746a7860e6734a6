// Local prefetch only where the controller takes held jobs back: a controller that does not list
// the `release` feature in its session answer (one that predates it ignores a `release`, and the
// held job would wait for its lease to expire and use an attempt) gets offers for free slots only.
// The reference controller lists it, and prefetch holds as before: prefetch.test.ts.

import { afterEach, expect, test } from "bun:test";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { GatedExecutor, sampleCredit, warmUp } from "../helpers/prefetch.ts";
import { networkOpener, type TransportOpener } from "../../src/controller/edge/opener.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A controller from before `release`, played by the reference controller: its session answer has
 * no `features`, and a `release` never reaches it (it would ignore the unknown type). `older()`
 * says whether the next session is with one (a rolling upgrade or downgrade behind a list of URLs).
 */
function olderControllerOpener(older: () => boolean = () => true): TransportOpener {
  return {
    session: async (options) => {
      const { features, ...answer } = await networkOpener.session(options);
      return older() ? answer : { ...answer, ...(features === undefined ? {} : { features }) };
    },
    open: async (kind, options) => {
      const transport = await networkOpener.open(kind, options);
      const drop = older();
      return { kind: transport.kind, closed: transport.closed, close: () => transport.close(), send: (messages) => transport.send(drop ? messages.filter((m) => m.type !== "release") : messages) };
    },
  };
}
const olderController = olderControllerOpener();

/** Every job succeeds after a few milliseconds. */
const quick = () => new GatedExecutor(() => Math.floor(Math.random() * 4));

test("Runner holds no offered job for a controller that does not list release: credit stays within free slots, every job runs once", async () => {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, leaseTtlMs: 3000, heartbeatIntervalMs: 500 });
  const { runner, records } = startRunner({ controller, executor: quick(), concurrency: 2, prefetch: 3, prefetchHoldMs: 300, opener: olderController });
  cleanups.push(tmp.remove, () => controller.close(), () => runner.drain());
  const sampled = sampleCredit(controller, runner);
  const jobs = Array.from({ length: 60 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
  const done = await Promise.all(jobs.map((id) => controller.waitForJob(id, 20_000)));
  const { most, mostHeld } = sampled();
  expect(done.map((j) => [j.status, j.attempt, j.releasedLeases ?? 0])).toEqual(done.map(() => ["succeeded", 1, 0]));
  expect(most).toBeLessThanOrEqual(2);
  expect(mostHeld).toBe(0);
  // Said once, at info, and on /status.
  const said = records.filter((r) => r.msg.includes("does not list the release feature"));
  expect(said.map((r) => r.level)).toEqual(["info"]);
  expect(runner.snapshot()).toMatchObject({ prefetch: 3, prefetchOff: expect.stringContaining("release") });
});

test("Runner whose next session is with a controller that does not list release keeps its held jobs past the bound, and rejects them at drain", async () => {
  const tmp = tempDir();
  const leases = { leaseTtlMs: 3000, heartbeatIntervalMs: 300, leaseGraceMs: 1000 };
  let { controller } = await startController({ dataDir: tmp.dir, ...leases });
  const port = controller.port;
  cleanups.push(tmp.remove, () => controller.close());
  let older = false;
  const executor = new GatedExecutor();
  const { runner, records } = startRunner({ controller, executor, concurrency: 1, prefetch: 2, prefetchHoldMs: 500, opener: olderControllerOpener(() => older) });
  cleanups.push(() => runner.drain());
  await eventually(() => (runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  await warmUp(controller, executor, 2);
  const jobs = Array.from({ length: 3 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
  const status = (id: string) => controller.getJob(id)?.status;
  await eventually(() => (runner.snapshot().held.length === 2 && status(jobs[0]!) === "running" ? true : undefined), 10_000, "one job running, two held");
  older = true;
  await controller.close();
  controller = (await startController({ dataDir: tmp.dir, port, ...leases })).controller;
  await eventually(() => (runner.lifecycle.state === "ready" && runner.snapshot().prefetchOff !== undefined ? true : undefined), 10_000, "runner on the older controller");
  expect(records.filter((r) => r.msg.includes("does not list the release feature")).map((r) => r.level)).toEqual(["info"]);
  // Past the bound several times over, and past the leases: a release would have been ignored and
  // the leases would have lapsed. The jobs stay held, heartbeated, on their first attempt.
  await Bun.sleep(4000);
  expect(runner.snapshot().held.map((h) => h.jobId)).toEqual([jobs[1]!, jobs[2]!]);
  expect(jobs.map((id) => [status(id), controller.getJob(id)?.attempt])).toEqual([["running", 1], ["leased", 1], ["leased", 1]]);
  // Drain: the older controller would ignore a release, so they go back at once as rejects.
  const draining = runner.drain();
  await eventually(() => (status(jobs[1]!) === "queued" && status(jobs[2]!) === "queued" ? true : undefined), 10_000, "held jobs back in the queue");
  for (const id of jobs.slice(1)) expect(controller.getJob(id)).toMatchObject({ attempt: 1, error: { code: "runner_draining" } });
  executor.finish(jobs[0]!);
  await draining;
  expect(executor.started.filter((id) => jobs.includes(id))).toEqual([jobs[0]!]);
  const other = startRunner({ controller, runnerId: "r2", executor: quick() });
  cleanups.push(() => other.runner.drain());
  const done = await Promise.all(jobs.map((id) => controller.waitForJob(id, 10_000)));
  expect(done.map((j) => [j.status, j.attempt])).toEqual([["succeeded", 1], ["succeeded", 2], ["succeeded", 2]]);
}, 30_000);
