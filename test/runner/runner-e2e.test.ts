// The runner against the real reference controller, in one process over real sockets.

import { afterEach, describe, expect, test } from "bun:test";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import type { ReferenceController } from "../../src/reference-controller/controller.ts";
import type { Runner } from "../../src/runner/runner.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { testPool } from "../plugins/support/helpers.ts";
import { forEachStore, type StoreFixture } from "../helpers/stores.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { transport?: "websocket" | "poll"; drainTimeoutMs?: number; concurrency?: number } = {}, store?: StoreFixture) {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, ...(await store?.options()) });
  const started = startRunner({ controller, ...options });
  cleanups.push(tmp.remove, () => controller.close(), () => started.runner.drain());
  await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  return { controller, ...started };
}

forEachStore("Runner end to end", (store) => {
  for (const transport of ["websocket", "poll"] as const) {
    test(`Runner runs an echo job and its logs reach the controller over ${transport}`, async () => {
      const { controller } = await setup({ transport }, store);
      const job = controller.submitJob({ plugin: "echo", input: { hello: transport } });
      const done = await controller.waitForJob(job.id, 10_000);
      expect(done.status).toBe("succeeded");
      expect(done.output).toEqual({ hello: transport });
      expect(done.attempt).toBe(1);
      const events = (await controller.core.logs.read(job.id, 0, 1000));
      expect(events.some((e) => e.type === "log" && JSON.stringify(e).includes(transport))).toBe(true);
      expect(events.some((e) => e.type === "step")).toBe(true);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    });
  }

  test("Runner runs many jobs concurrently without exceeding its slots", async () => {
    const { controller, runner } = await setup({ concurrency: 2 }, store);
    let maxRunning = 0;
    const timer = setInterval(() => (maxRunning = Math.max(maxRunning, runner.runningCount)), 1);
    const jobs = Array.from({ length: 6 }, (_, i) => controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 30 + i } }));
    const results = await Promise.all(jobs.map((j) => controller.waitForJob(j.id, 20_000)));
    clearInterval(timer);
    expect(results.every((r) => r.status === "succeeded")).toBe(true);
    expect(maxRunning).toBeLessThanOrEqual(2);
  });

  test("Runner.drain() lets a running job finish, reports it, then stops", async () => {
    const { controller, runner } = await setup({}, store);
    const job = controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 300 } });
    await eventually(() => (runner.runningCount === 1 ? true : undefined), 10_000, "job running");
    await runner.drain();
    expect(runner.lifecycle.state).toBe("stopped");
    expect(controller.getJob(job.id)?.status).toBe("succeeded");
  });

  test("Runner.drain() past its timeout reports the job interrupted and the controller re-queues it", async () => {
    const { controller, runner } = await setup({ drainTimeoutMs: 100 }, store);
    const job = controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 60_000 } });
    await eventually(() => (runner.runningCount === 1 ? true : undefined), 10_000, "job running");
    await runner.drain();
    const after = controller.getJob(job.id)!;
    expect(after.status).toBe("queued");
    expect(after.attempt).toBe(1);
    expect(runner.snapshot().recent[0]?.status).toBe("interrupted");
  });

  test("Runner.interruptNow() (second signal) stops a long job at once", async () => {
    const { controller, runner } = await setup({ drainTimeoutMs: 60_000 }, store);
    controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 60_000 } });
    await eventually(() => (runner.runningCount === 1 ? true : undefined), 10_000, "job running");
    const draining = runner.drain();
    await eventually(() => (runner.lifecycle.state === "draining" ? true : undefined));
    await runner.interruptNow();
    await draining;
    expect(runner.lifecycle.state).toBe("stopped");
    expect(runner.snapshot().recent[0]?.status).toBe("interrupted");
  });

  test("Runner rejects offers while draining is impossible to observe: it grants no credit", async () => {
    const { controller, runner } = await setup({ drainTimeoutMs: 5_000 }, store);
    controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 200 } });
    await eventually(() => (runner.runningCount === 1 ? true : undefined));
    const draining = runner.drain();
    const late = controller.submitJob({ plugin: "echo", input: 1 });
    await draining;
    expect(controller.getJob(late.id)?.status).toBe("queued");
  });

  test("Controller cancel stops the job in its worker and records it cancelled", async () => {
    const { controller, runner } = await setup({}, store);
    const job = controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 60_000 } });
    await eventually(() => (runner.runningCount === 1 ? true : undefined));
    await controller.cancelJob(job.id);
    const done = await controller.waitForJob(job.id, 10_000);
    expect(done.status).toBe("cancelled");
  });

  test("EdgeConnection reconnects after the controller restarts and the job completes", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const storeOptions = await store.options();
    let { controller } = await startController({ dataDir: tmp.dir, ...storeOptions });
    const port = controller.port;
    const { apiKey } = await controller.registerRunner({ id: "r1", group: "default" });
    const started = startRunner({ controller, apiKey });
    cleanups.push(() => started.runner.drain());
    await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined));
    const job = controller.submitJob({ plugin: "echo", action: "sleep", input: { ms: 500 } });
    await eventually(() => (started.runner.runningCount === 1 ? true : undefined));
    await controller.close();
    controller = (await startController({ dataDir: tmp.dir, port, ...storeOptions })).controller;
    cleanups.push(() => controller.close());
    const done = await controller.waitForJob(job.id, 15_000);
    expect(done.status).toBe("succeeded");
    expect(done.attempt).toBe(1);
    expect(started.connection.status().reconnects).toBeGreaterThanOrEqual(1);
  });

  test("EdgeConnection shows unauthorized for a wrong API key and does not spin", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    const { controller } = await startController({ dataDir: tmp.dir, ...(await store.options()) });
    cleanups.push(() => controller.close());
    await controller.registerRunner({ id: "r1", group: "default" });
    const { runner, connection } = startRunner({ controller, apiKey: "wrong-key-wrong-key" });
    cleanups.push(() => runner.drain());
    await eventually(() => (connection.status().state === "unauthorized" ? true : undefined));
    const reconnects = connection.status().reconnects;
    await new Promise((r) => setTimeout(r, 100));
    // With a 200 ms ceiling it may retry at most once in 100 ms: no tight loop.
    expect(connection.status().reconnects - reconnects).toBeLessThanOrEqual(1);
    expect(runner.snapshot().connection.lastError).toContain("refused");
    expect(JSON.stringify(runner.snapshot())).not.toContain("wrong-key-wrong-key");
  });
});

export type { ReferenceController, Runner };

describe("Runner secrets", () => {
  test("a job resolves a declared secret from the controller's store; the value never reaches its logs", async () => {
    const { controller } = await setup();
    controller.secrets.set("db/password", "hunter2-very-secret");
    const job = controller.submitJob({ plugin: "echo", action: "secret", input: { ref: "db/password" }, secrets: ["db/password"] });
    const done = await controller.waitForJob(job.id, 10_000);
    expect(done.status).toBe("succeeded");
    expect(done.output).toEqual({ ref: "db/password", length: 19 });
    const events = JSON.stringify((await controller.core.logs.read(job.id, 0, 1000)));
    expect(events).toContain("[REDACTED]");
    expect(events).not.toContain("hunter2-very-secret");
  });

  test("a job cannot resolve a secret it did not declare", async () => {
    const { controller } = await setup();
    controller.secrets.set("other", "not-for-you-1234");
    const job = controller.submitJob({ plugin: "echo", action: "secret", input: { ref: "other" } });
    const done = await controller.waitForJob(job.id, 10_000);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("secret_not_found");
  });
});

forEachStore("Runner limits", (store) => {
  const chatty = (lines: number, output: unknown): JobExecutor => ({
    async run(request) {
      // All lines in one synchronous burst: the worst case for batching.
      for (let i = 1; i <= lines; i++) request.onLog({ ts: i, level: "info", msg: `line ${i} ${"x".repeat(200)}` });
      return { status: "succeeded", output };
    },
    workers: () => [],
    close: async () => {},
  });

  for (const transport of ["websocket", "poll"] as const) {
    test(`a plugin logging 5,000 lines at once loses none, in order, and the job completes (${transport})`, async () => {
      const tmp = tempDir();
      const { controller } = await startController({ dataDir: tmp.dir, ...(await store.options()) });
      const { runner } = startRunner({ controller, transport, executor: chatty(5000, { ok: true }) });
      cleanups.push(tmp.remove, () => controller.close(), () => runner.drain());
      const job = controller.submitJob({ plugin: "echo" });
      const done = await controller.waitForJob(job.id, 20_000);
      expect(done.status).toBe("succeeded");
      const lines = (await controller.core.logs.read(job.id, 0, 100_000)).flatMap((e) => (e.type === "log" ? e.lines.map((l) => l.ts) : []));
      expect(lines).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    });
  }

  test("a plugin error of megabytes reaches the controller cut to a readable size", async () => {
    const tmp = tempDir();
    const { controller } = await startController({ dataDir: tmp.dir, ...(await store.options()) });
    // The pool bounds a plugin's text (src/plugins/job-text.ts): a fixture plugin throws 5 MiB.
    const { pool: executor } = testPool();
    const { runner } = startRunner({ controller, executor });
    cleanups.push(tmp.remove, () => controller.close(), () => runner.drain());
    const job = controller.submitJob({ plugin: "sdk-features", action: "hugeError", maxAttempts: 1 });
    const done = await controller.waitForJob(job.id, 20_000);
    expect(done.status).toBe("failed");
    expect(done.error?.message.length).toBeLessThan(17_000);
    expect(done.error?.message).toContain("more characters cut");
  });

  test("an output too large for the protocol fails the job with output_invalid instead of wedging it", async () => {
    const tmp = tempDir();
    const { controller } = await startController({ dataDir: tmp.dir, ...(await store.options()) });
    const { runner } = startRunner({ controller, executor: chatty(1, { blob: "y".repeat(2 * 1024 * 1024) }) });
    cleanups.push(tmp.remove, () => controller.close(), () => runner.drain());
    const job = controller.submitJob({ plugin: "echo" });
    const done = await controller.waitForJob(job.id, 20_000);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("output_invalid");
  });
});
