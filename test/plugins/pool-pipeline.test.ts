// Fast runs queued behind a busy worker instead of waking idle ones (src/plugins/pool-pipeline.ts),
// and every way a queued run must still end as if it had its own worker: taken back when the run
// ahead is slow or stuck, when the worker breaks, and when the queued run itself is cancelled.
import { afterEach, expect, test } from "bun:test";
import type { PluginPool } from "../../src/plugins/pool.ts";
import type { PluginThread } from "../../src/plugins/plugin-thread.ts";
import type { HostToWorker, WorkerToHost } from "../../src/plugins/worker-protocol.ts";
import { request, testPool } from "./support/helpers.ts";

const pools: PluginPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** Four warm workers of the faults fixture, and a streak of fast runs so the pool queues behind busy ones. */
async function fastPool(): Promise<PluginPool> {
  const { pool } = testPool({ cancelGraceMs: 100 });
  pools.push(pool);
  await pool.prewarm("faults", 4);
  await warm(pool);
  return pool;
}

async function warm(pool: PluginPool): Promise<void> {
  for (let i = 0; i < 64; i++) expect((await pool.run(request("faults", "ok", { jobId: `warm-${i}` }))).status).toBe("succeeded");
}

const served = (pool: PluginPool): Map<number, number> => new Map(pool.workers().map((w) => [w.id, w.jobsServed]));

test("PluginPool.run() queues a burst of fast runs behind busy workers: 8 runs wake 2 of 4 workers, each run once", async () => {
  const pool = await fastPool();
  // A slow run on a loaded machine halves the streak; a few tries keep the test about the rule, not the load.
  let woken = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 3 && woken > 2; attempt++) {
    const before = served(pool);
    const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.run(request("faults", "ok", { jobId: `burst-${attempt}-${i}`, input: i }))));
    expect(outcomes).toEqual(Array.from({ length: 8 }, (_, i) => ({ status: "succeeded", output: { ok: true, input: i } })));
    const after = served(pool);
    woken = [...after].filter(([id, n]) => n > (before.get(id) ?? 0)).length;
    expect([...after.values()].reduce((a, b) => a + b, 0) - [...before.values()].reduce((a, b) => a + b, 0)).toBe(8);
    if (woken > 2) await warm(pool);
  }
  expect(woken).toBe(2);
});

test("PluginPool.run() takes a queued run back from behind a stuck run: it runs on another worker, and the stuck one still times out on its own", async () => {
  const pool = await fastPool();
  const stuck = pool.run(request("faults", "loop", { jobId: "stuck", timeoutMs: 1500 }));
  const startedAt = Date.now();
  const queued = await pool.run(request("faults", "ok", { jobId: "behind", input: "behind" }));
  expect(queued).toEqual({ status: "succeeded", output: { ok: true, input: "behind" } });
  expect(Date.now() - startedAt).toBeLessThan(1200);
  const outcome = await stuck;
  expect(outcome.status).toBe("timed_out");
  expect(outcome.error?.message).toContain('Cannot finish job "stuck" within 1500 ms');
});

test("PluginPool.run() gives the runs queued behind a run that breaks its worker to another worker", async () => {
  const pool = await fastPool();
  const broken = pool.run(request("faults", "unhandled", { jobId: "breaks" }));
  const behind = [0, 1, 2].map((i) => pool.run(request("faults", "ok", { jobId: `behind-${i}`, input: i })));
  expect((await broken).error?.code).toBe("plugin_error");
  expect(await Promise.all(behind)).toEqual([0, 1, 2].map((i) => ({ status: "succeeded", output: { ok: true, input: i } })));
});

test("PluginPool.run() cancels a queued run without touching the run ahead of it", async () => {
  const pool = await fastPool();
  const ahead = pool.run(request("faults", "loop", { jobId: "ahead", timeoutMs: 1000 }));
  const cancel = new AbortController();
  const queued = pool.run(request("faults", "ok", { jobId: "queued", signal: cancel.signal }));
  // Once both are dispatched (the fixture resolves in microtasks), well before the stall would take it back.
  await new Promise((resolve) => setImmediate(resolve));
  cancel.abort("no longer wanted");
  expect(await queued).toEqual({ status: "cancelled", error: { code: "job_cancelled", message: 'Job "queued" cancelled: no longer wanted' } });
  // The loop ahead ends by its own timeout, not by the queued run's cancel grace.
  expect((await ahead).status).toBe("timed_out");
});

/** A worker thread that answers in microtasks: two results can reach the pool in one task. */
function instantThread(): PluginThread {
  const listeners = new Map<string, (value: never) => void>();
  const emit = (message: WorkerToHost) => queueMicrotask(() => (listeners.get("message") as ((m: WorkerToHost) => void) | undefined)?.(message));
  return {
    on(event: string, listener: (value: never) => void) {
      listeners.set(event, listener);
      return this;
    },
    postMessage(message: HostToWorker) {
      if (message.type === "init") emit({ type: "ready", plugin: { name: "echo", version: "1.0.0", actions: ["default"] } });
      if (message.type === "run") emit({ type: "done", runId: message.runId, output: message.job.input, ms: 0 });
    },
    terminate: async () => undefined,
    ref() {},
    unref() {},
  } as PluginThread;
}

test("PluginPool.run() gives a worker back once when the two runs it held end in one task (it never runs two at once)", async () => {
  const { pool } = testPool({ spawn: instantThread, maxWorkersPerPlugin: 16 });
  pools.push(pool);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < 2000) {
      const n = next++;
      expect(await pool.run(request("echo", "default", { jobId: `instant-${n}`, input: n }))).toEqual({ status: "succeeded", output: n });
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  expect(pool.workers().every((w) => w.state === "idle")).toBe(true);
});
