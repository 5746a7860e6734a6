// Local prefetch against the real reference controller: a runner holds a few offered jobs beyond
// its concurrency, starts them in offer order as slots free, drops a cancelled one, gives held
// ones back (`release`, no attempt used) at drain and past the hold bound, never holds more credit
// than concurrency + prefetch, and a SIGKILLed runner with held jobs loses none.

import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { start, type Proc } from "../helpers/processes.ts";
import { GatedExecutor, sampleCredit, warmUp } from "../helpers/prefetch.ts";
import type { ReferenceController } from "../../src/reference-controller/controller.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { prefetch: number; prefetchHoldMs?: number; concurrency?: number; maxAttempts?: number; autoMs?: () => number }) {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }) });
  const executor = new GatedExecutor(options.autoMs);
  const started = startRunner({ controller, executor, concurrency: options.concurrency ?? 1, prefetch: options.prefetch, prefetchHoldMs: options.prefetchHoldMs ?? 60_000 });
  cleanups.push(tmp.remove, () => controller.close(), () => started.runner.drain());
  await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  return { ...started, controller, executor };
}

const status = (controller: ReferenceController, id: string) => controller.getJob(id)?.status;

describe("local prefetch", () => {
  test("Runner holds offered jobs unaccepted and starts them in offer order as slots free", async () => {
    const { controller, executor, runner } = await setup({ prefetch: 2 });
    await warmUp(controller, executor, 2);
    const jobs = Array.from({ length: 4 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
    await eventually(() => (runner.snapshot().held.length === 2 ? true : undefined), 10_000, "two jobs held");
    expect(runner.snapshot().held.map((h) => h.jobId)).toEqual([jobs[1]!, jobs[2]!]);
    // Held is offered, not accepted: the controller's `running` starts when the job does. The
    // runner holds its two jobs possibly before its accept of the first one reached the controller
    // (a loaded machine: CI saw "leased" here), so the controller's view is waited for.
    const expected: Array<string | undefined> = ["running", "leased", "leased", "queued"];
    await eventually(() => (JSON.stringify(jobs.map((id) => status(controller, id))) === JSON.stringify(expected) ? true : undefined), 10_000, "the first job running, two leased");
    expect(jobs.map((id): string | undefined => status(controller, id))).toEqual(expected);
    expect(runner.snapshot().prefetch).toBe(2);
    for (const id of jobs) {
      await eventually(() => (executor.started.includes(id) ? true : undefined), 10_000, `job ${id} started`);
      executor.finish(id);
    }
    const done = await Promise.all(jobs.map((id) => controller.waitForJob(id, 10_000)));
    expect(done.map((j) => [j.status, j.attempt])).toEqual(jobs.map(() => ["succeeded", 1]));
    expect(executor.started.slice(2)).toEqual(jobs);
  });

  test("Runner never starts a held job the controller cancelled, and reports it cancelled", async () => {
    const { controller, executor, runner } = await setup({ prefetch: 1 });
    await warmUp(controller, executor, 1);
    const first = controller.submitJob({ plugin: "echo", input: 1 }).id;
    const held = controller.submitJob({ plugin: "echo", input: 2 }).id;
    await eventually(() => (runner.snapshot().held.length === 1 ? true : undefined), 10_000, "job held");
    await controller.cancelJob(held);
    expect((await controller.waitForJob(held, 10_000)).status).toBe("cancelled");
    expect(runner.snapshot().held).toEqual([]);
    expect(runner.snapshot().recent[0]).toMatchObject({ jobId: held, status: "cancelled", errorCode: "job_cancelled" });
    executor.finish(first);
    expect((await controller.waitForJob(first, 10_000)).status).toBe("succeeded");
    expect(executor.started).not.toContain(held);
  });

  test("Runner.drain() gives held jobs back at once without using up an attempt", async () => {
    const { controller, executor, runner } = await setup({ prefetch: 2, maxAttempts: 1 });
    await warmUp(controller, executor, 2);
    const jobs = Array.from({ length: 3 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
    await eventually(() => (runner.snapshot().held.length === 2 ? true : undefined), 10_000, "two jobs held");
    const draining = runner.drain();
    // Back in the queue while the running job still runs: no lease expiry waited for.
    await eventually(() => (status(controller, jobs[1]!) === "queued" && status(controller, jobs[2]!) === "queued" ? true : undefined), 10_000, "held jobs queued");
    expect(status(controller, jobs[0]!)).toBe("running");
    executor.finish(jobs[0]!);
    await draining;
    // With maxAttempts 1, a counted attempt would have failed them.
    for (const id of jobs.slice(1)) expect(controller.getJob(id)).toMatchObject({ status: "queued", attempt: 1, releasedLeases: 1 });
    const other = startRunner({ controller, runnerId: "r2", executor: new GatedExecutor(() => 0) });
    cleanups.push(() => other.runner.drain());
    const done = await Promise.all(jobs.slice(1).map((id) => controller.waitForJob(id, 10_000)));
    expect(done.map((j) => [j.status, j.attempt, j.runnerId])).toEqual([["succeeded", 2, "r2"], ["succeeded", 2, "r2"]]);
  });

  test("Runner gives back a job held past prefetchHoldMs, and it goes to an idle runner, not back to it", async () => {
    const { controller, executor, runner } = await setup({ prefetch: 1, prefetchHoldMs: 2000 });
    await warmUp(controller, executor, 1);
    const long = controller.submitJob({ plugin: "echo", input: "long" }).id;
    const held = controller.submitJob({ plugin: "echo", input: "held" }).id;
    await eventually(() => (runner.snapshot().held.length === 1 ? true : undefined), 10_000, "job held");
    await eventually(() => (status(controller, held) === "queued" ? true : undefined), 10_000, "held job given back");
    expect(controller.getJob(held)).toMatchObject({ attempt: 1, releasedLeases: 1 });
    // The runner is busy with a long job: it asks for nothing more, so the job waits for another.
    await Bun.sleep(200);
    expect(status(controller, held)).toBe("queued");
    expect(runner.snapshot().held).toEqual([]);
    const other = startRunner({ controller, runnerId: "r2", executor: new GatedExecutor(() => 0) });
    cleanups.push(() => other.runner.drain());
    expect(await controller.waitForJob(held, 10_000)).toMatchObject({ status: "succeeded", attempt: 2, runnerId: "r2" });
    expect(executor.started).not.toContain(held);
    executor.finish(long);
  });

  test("Runner's held jobs survive a controller restart: the new session's heartbeat keeps their leases, and they run once", async () => {
    const tmp = tempDir();
    // Leases of 3 s (heartbeats every 300 ms: a wide margin on a loaded machine), before the restart and after it.
    const leases = { leaseTtlMs: 3000, heartbeatIntervalMs: 300, leaseGraceMs: 1000 };
    let { controller } = await startController({ dataDir: tmp.dir, ...leases });
    const port = controller.port;
    cleanups.push(tmp.remove, () => controller.close());
    const executor = new GatedExecutor();
    const { runner } = startRunner({ controller, executor, concurrency: 1, prefetch: 2, prefetchHoldMs: 60_000 });
    cleanups.push(() => runner.drain());
    await eventually(() => (runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
    await warmUp(controller, executor, 2);
    const jobs = Array.from({ length: 3 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
    // The first one's `accept` stored too (an accept lost with the session is not resent: the job would stay leased until its result).
    await eventually(() => (runner.snapshot().held.length === 2 && status(controller, jobs[0]!) === "running" ? true : undefined), 10_000, "one job running, two held");
    await controller.close();
    controller = (await startController({ dataDir: tmp.dir, port, ...leases })).controller;
    await eventually(() => (runner.lifecycle.state === "ready" && runner.snapshot().connection.reconnects > 0 ? true : undefined), 10_000, "runner reconnected");
    // Past the lease and the restart's grace: held leases not heartbeated by the new session would have expired.
    await Bun.sleep(4500);
    expect(runner.snapshot().held.map((h) => h.jobId)).toEqual([jobs[1]!, jobs[2]!]);
    expect(jobs.map((id) => [status(controller, id), controller.getJob(id)?.attempt])).toEqual([["running", 1], ["leased", 1], ["leased", 1]]);
    for (const id of jobs) {
      await eventually(() => (executor.started.includes(id) ? true : undefined), 10_000, `job ${id} started`);
      executor.finish(id);
    }
    const done = await Promise.all(jobs.map((id) => controller.waitForJob(id, 10_000)));
    expect(done.map((j) => [j.status, j.attempt])).toEqual(jobs.map(() => ["succeeded", 1]));
  });

  test("Runner keeps the controller's credit and its leases within concurrency + prefetch", async () => {
    const { controller, runner, executor, records } = await setup({ prefetch: 3, concurrency: 2, autoMs: () => Math.floor(Math.random() * 4) });
    const sampled = sampleCredit(controller, runner, () => expect(runner.runningCount).toBeLessThanOrEqual(2));
    const jobs = Array.from({ length: 60 }, (_, i) => controller.submitJob({ plugin: "echo", input: { i } }).id);
    const done = await Promise.all(jobs.map((id) => controller.waitForJob(id, 20_000)));
    const { most, mostHeld } = sampled();
    expect(done.every((j) => j.status === "succeeded" && j.attempt === 1)).toBe(true);
    expect(most).toBeLessThanOrEqual(5);
    expect(mostHeld).toBeGreaterThan(0);
    expect(executor.started).toHaveLength(60);
    // The reference controller lists the release feature: nothing to say about it.
    expect(runner.snapshot().prefetchOff).toBeUndefined();
    expect(records.filter((r) => r.msg.includes("release feature"))).toEqual([]);
  });
});

const root = new URL("../..", import.meta.url).pathname;

test("a runner process SIGKILLed with held jobs loses none: their leases expire and re-queue them", async () => {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, leaseTtlMs: 2000, heartbeatIntervalMs: 500 });
  cleanups.push(tmp.remove, () => controller.close());
  const keyFile = path.join(tmp.dir, "r1.key");
  writeFileSync(keyFile, (await controller.registerRunner({ id: "r1", group: "default" })).apiKey, { mode: 0o600 });
  const proc: Proc = start({ name: "source", command: [process.execPath, `${root}src/main.ts`] }, [
    "run", "--runner-id", "r1", "--api-key-file", keyFile, "--controller-url", controller.url, "--data-dir", path.join(tmp.dir, "runner"),
    "--status-port", "0", "--start-jitter", "0", "--concurrency", "1", "--prefetch", "2", "--prefetch-hold", "60s",
  ]);
  cleanups.push(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  for (let i = 0; i < 3; i++) {
    const warm = controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 1 } });
    expect((await controller.waitForJob(warm.id, 30_000)).status).toBe("succeeded");
  }
  const jobs = Array.from({ length: 3 }, () => controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 60_000 } }).id);
  await eventually(() => (jobs.map((id) => status(controller, id)).join() === "running,leased,leased" ? true : undefined), 20_000, "one job running, two held");
  proc.kill("SIGKILL");
  await proc.exited;
  await eventually(() => (jobs.every((id) => status(controller, id) === "queued") ? true : undefined), 20_000, "every job re-queued");
  for (const id of jobs) expect(controller.getJob(id)).toMatchObject({ attempt: 1, error: { code: "lease_expired" } });
}, 60_000);
