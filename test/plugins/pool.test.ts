import { realTimers } from "../../src/util/time.ts";
import { afterEach, expect, test } from "bun:test";
import { builtinOnlyResolver } from "../../src/plugins/plugin-ref.ts";
import type { PluginPool } from "../../src/plugins/pool.ts";
import { ManualTimers, request, testPool, waitFor } from "./support/helpers.ts";

const pools: PluginPool[] = [];
function track<T extends { pool: PluginPool }>(made: T): T {
  pools.push(made.pool);
  return made;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

test("PluginPool.run() runs echo in a worker and forwards its logs and steps", async () => {
  const { pool } = track(testPool());
  const req = request("echo", "default", { input: { hello: "world" } });
  const outcome = await pool.run(req);
  expect(outcome).toEqual({ status: "succeeded", output: { hello: "world" } });
  expect(req.logs.map((l) => [l.level, l.msg])).toEqual([["info", 'Echo: {"hello":"world"}']]);
  expect(req.steps.map((s) => s.status)).toEqual(["running", "succeeded"]);
});

test("PluginPool.run() reuses the warm worker for sequential jobs", async () => {
  const { pool } = track(testPool());
  await pool.run(request("echo", "default"));
  const [first] = pool.workers();
  await pool.run(request("echo@1.0.0", "default"));
  expect(pool.workers()).toHaveLength(1);
  expect(pool.workers()[0]).toMatchObject({ id: first?.id, plugin: "echo", state: "idle", jobsServed: 2 });
});

test("PluginPool.run() hands a job whose resolver answers at once to the warm worker in the same turn", async () => {
  const code = 'export default { name: "now", version: "1.0.0", actions: { default: () => 1 } };';
  const source = { kind: "bundle", url: `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`, id: "test:now", name: "now", version: "1.0.0" } as const;
  const { pool } = track(testPool({ resolve: () => source }));
  expect((await pool.run(request("now@1.0.0", "default"))).status).toBe("succeeded");
  const running = pool.run(request("now@1.0.0", "default"));
  expect(pool.workers().map((w) => w.state)).toEqual(["busy"]);
  expect(await running).toEqual({ status: "succeeded", output: 1 });
});

test("PluginPool.run() stops a worker once it has been idle for idleMs", async () => {
  const timers = new ManualTimers();
  const { pool } = track(testPool({ timers, idleMs: 12_345 }));
  await pool.run(request("echo", "default"));
  expect(pool.workers().map((w) => w.state)).toEqual(["idle"]);
  expect(timers.fire(12_345)).toBe(1);
  expect(pool.workers()).toEqual([]);
  await pool.run(request("echo", "default"));
  expect(pool.workers()[0]?.id).toBe(2);
});

test("PluginPool.run() keeps a reused worker alive: taking it clears its idle timer", async () => {
  const timers = new ManualTimers();
  const { pool } = track(testPool({ timers, idleMs: 12_345 }));
  await pool.run(request("echo", "default"));
  await pool.run(request("echo", "default"));
  expect(timers.count(12_345)).toBe(1);
});

test("PluginPool.run() recycles a worker after maxJobsPerWorker jobs", async () => {
  const { pool } = track(testPool({ maxJobsPerWorker: 2 }));
  await pool.run(request("echo", "default"));
  expect(pool.workers()).toMatchObject([{ id: 1, jobsServed: 1 }]);
  await pool.run(request("echo", "default"));
  expect(pool.workers()).toEqual([]);
  expect((await pool.run(request("echo", "default"))).status).toBe("succeeded");
  expect(pool.workers()).toMatchObject([{ id: 2, jobsServed: 1 }]);
});

test("PluginPool.run() starts at most maxWorkersPerPlugin workers and queues the rest", async () => {
  const { pool } = track(testPool({ maxWorkersPerPlugin: 2 }));
  const cancels = [new AbortController(), new AbortController(), new AbortController()];
  const runs = cancels.map((c, i) => pool.run(request("echo", "sleep", { jobId: `j${i}`, input: { ms: 60_000 }, signal: c.signal })));
  await waitFor(() => pool.workers().filter((w) => w.state === "busy").length === 2, "two busy workers");
  expect(pool.workers()).toHaveLength(2);
  const ids = pool.workers().map((w) => w.id);

  cancels[0]?.abort("first one done");
  expect(await runs[0]).toMatchObject({ status: "cancelled", error: { code: "job_cancelled", message: 'Job "j0" cancelled: first one done' } });
  // The queued job takes the freed worker: no third thread.
  await waitFor(() => pool.workers().reduce((n, w) => n + w.jobsServed, 0) === 1 && pool.workers().every((w) => w.state === "busy"), "the queued job to start");
  expect(pool.workers().map((w) => w.id).sort()).toEqual(ids.sort());

  cancels[1]?.abort();
  cancels[2]?.abort();
  expect((await Promise.all(runs)).map((o) => o.status)).toEqual(["cancelled", "cancelled", "cancelled"]);
});

test("PluginPool.run() ends a job cancelled while queued without touching a worker", async () => {
  const { pool } = track(testPool({ maxWorkersPerPlugin: 1 }));
  const busy = new AbortController();
  const first = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, signal: busy.signal }));
  await waitFor(() => pool.workers()[0]?.state === "busy", "the first job to start");
  const queued = new AbortController();
  const second = pool.run(request("echo", "default", { jobId: "q", signal: queued.signal }));
  queued.abort();
  expect(await second).toMatchObject({ status: "cancelled", error: { code: "job_cancelled" } });
  busy.abort();
  await first;
  expect(pool.workers()[0]?.jobsServed).toBe(1);
});

test("PluginPool.run() times out a job that waited too long for a worker", async () => {
  const timers = new ManualTimers();
  const { pool } = track(testPool({ maxWorkersPerPlugin: 1, timers }));
  const busy = new AbortController();
  const first = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, signal: busy.signal, timeoutMs: 1_000_000 }));
  const second = pool.run(request("echo", "default", { jobId: "late", timeoutMs: 777 }));
  timers.fire(777);
  expect(await second).toEqual({ status: "timed_out", error: { code: "plugin_timeout", message: 'Cannot finish job "late" within 777 ms: no worker of plugin "echo" was free' } });
  busy.abort();
  await first;
});

test("PluginPool.run() cancels a cooperative plugin and keeps its worker", async () => {
  const { pool } = track(testPool());
  const cancel = new AbortController();
  const run = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, signal: cancel.signal }));
  await waitFor(() => pool.workers()[0]?.state === "busy", "the job to start");
  const id = pool.workers()[0]?.id;
  cancel.abort("Cancelled by user");
  expect(await run).toMatchObject({ status: "cancelled", error: { code: "job_cancelled", message: 'Job "echo-sleep" cancelled: Cancelled by user' } });
  expect(pool.workers()).toMatchObject([{ id, state: "idle" }]);
});

test("PluginPool.run() answers an already aborted signal with cancelled", async () => {
  const { pool } = track(testPool());
  const cancel = new AbortController();
  cancel.abort();
  expect((await pool.run(request("echo", "default", { signal: cancel.signal }))).status).toBe("cancelled");
  expect(pool.workers()).toEqual([]);
});

test("PluginPool.run() refuses bad requests with a clear error instead of rejecting", async () => {
  const { pool } = track(testPool({ resolve: builtinOnlyResolver }));
  expect(await pool.run(request("Not A Plugin", "default"))).toMatchObject({ status: "failed", error: { code: "input_invalid", message: 'Cannot use plugin "Not A Plugin": expected "name" or "name@version"' } });
  expect(await pool.run(request("hello@1.0.0", "default"))).toMatchObject({ status: "failed", error: { code: "plugin_not_found" } });
  expect(await pool.run(request("echo", "default", { timeoutMs: 0 }))).toMatchObject({ status: "failed", error: { code: "input_invalid" } });
  expect(await pool.run(request("echo", "nope"))).toMatchObject({ status: "failed", error: { code: "input_invalid", message: 'Cannot run job "echo-nope": plugin "echo" has no action "nope" (it has "default", "sleep", "secret", "fail")' } });
  expect(await pool.run(request("echo", "default", { input: { fn: () => 1 } }))).toMatchObject({ status: "failed", error: { code: "input_invalid" } });
  // Still usable afterwards.
  expect((await pool.run(request("echo", "default"))).status).toBe("succeeded");
});

test("PluginPool.run() survives callbacks that throw and logs them", async () => {
  const { pool, records } = track(testPool());
  const outcome = await pool.run(request("echo", "default", { onLog: () => { throw new Error("sink broke"); } }));
  expect(outcome.status).toBe("succeeded");
  expect(records.some((r) => r.msg === "Run callback threw")).toBe(true);
});

test("PluginPool.run() reports a resolver failure as the job's failure", async () => {
  const { pool } = track(testPool({ resolve: () => Promise.reject(Object.assign(new Error('Cannot verify bundle "x@1": signature missing'), { code: "plugin_error" })) }));
  expect(await pool.run(request("x@1", "default"))).toEqual({ status: "failed", error: { code: "plugin_error", message: 'Cannot verify bundle "x@1": signature missing' } });
});

test("PluginPool.prewarm() starts one idle worker and resolves when it is loaded", async () => {
  const { pool } = track(testPool());
  await pool.prewarm("echo");
  await pool.prewarm("echo");
  expect(pool.workers()).toMatchObject([{ plugin: "echo", state: "idle", jobsServed: 0 }]);
  await pool.run(request("echo", "default"));
  expect(pool.workers()).toHaveLength(1);
});

test("PluginPool.prewarm() rejects with the load error of a broken plugin", async () => {
  const { pool } = track(testPool());
  await expect(pool.prewarm("not-a-plugin")).rejects.toThrow("its default export is not a plugin");
  expect(pool.workers()).toEqual([]);
});

test("PluginPool.close() terminates every worker and interrupts running jobs", async () => {
  const { pool } = testPool();
  await pool.prewarm("echo");
  const running = pool.run(request("faults", "hang"));
  await waitFor(() => pool.workers().some((w) => w.plugin === "faults@0.0.1" && w.state === "busy"), "the job to start");
  await pool.close();
  expect(await running).toMatchObject({ status: "cancelled", error: { code: "job_interrupted" } });
  expect(pool.workers()).toEqual([]);
  expect(await pool.run(request("echo", "default"))).toMatchObject({ status: "cancelled", error: { code: "job_interrupted" } });
  await expect(pool.prewarm("echo")).rejects.toThrow("the plugin pool is closed");
});

test("PluginPool.close() while a worker is still starting ends its job cancelled and logs no start failure", async () => {
  const { pool, records } = testPool();
  // The run's worker is spawned in this turn and cannot have loaded yet.
  const queued = pool.run(request("echo", "default"));
  await pool.close();
  expect(await queued).toMatchObject({ status: "cancelled", error: { code: "job_interrupted" } });
  // Terminating a starting worker retires it at once; the pool closing is no start failure.
  expect(records.filter((r) => r.level === "warn" || r.level === "error").map((r) => r.msg)).toEqual([]);
});

test("PluginPool.run() ends a run `interrupted` when the runner's interrupt aborts, and the plugin sees the reason", async () => {
  const { pool } = track(testPool());
  const interrupt = new AbortController();
  const running = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, interrupt: interrupt.signal }));
  await waitFor(() => pool.workers().some((w) => w.state === "busy"), "the job to start");
  interrupt.abort("interrupted");
  expect(await running).toEqual({ status: "interrupted", error: { code: "job_interrupted", message: "The runner stopped before the job finished" } });
  // Already interrupted before it starts: no worker is asked.
  expect(await pool.run(request("echo", "default", { interrupt: interrupt.signal }))).toMatchObject({ status: "interrupted" });
});

test("PluginPool.run(): a controller cancel that came first stays `cancelled` when the interrupt follows", async () => {
  const { pool } = track(testPool());
  const cancel = new AbortController();
  const interrupt = new AbortController();
  const running = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, signal: cancel.signal, interrupt: interrupt.signal }));
  await waitFor(() => pool.workers().some((w) => w.state === "busy"), "the job to start");
  cancel.abort("cancelled by controller: stop");
  interrupt.abort("interrupted");
  expect(await running).toMatchObject({ status: "cancelled", error: { code: "job_cancelled" } });
});

test("PluginPool.workers() reports plugin, state, jobs served and memory per worker, even after one quick job", async () => {
  const { pool } = track(testPool({ timers: { ...realTimers, now: () => 42 } }));
  await pool.run(request("echo", "default"));
  await pool.run(request("faults", "ok"));
  const workers = pool.workers().sort((a, b) => a.id - b.id);
  expect(workers).toEqual([
    { id: 1, plugin: "echo", state: "idle", jobsServed: 1, startedAt: 42, memoryBytes: expect.any(Number) },
    { id: 2, plugin: "faults@0.0.1", state: "idle", jobsServed: 1, startedAt: 42, memoryBytes: expect.any(Number) },
  ]);
  // The status page's MEMORY column shows this; "–" for every worker was issue 14 item 7.
  for (const worker of workers) expect(worker.memoryBytes as number).toBeGreaterThan(0);
});
