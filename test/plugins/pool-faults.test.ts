import { afterAll, expect, test } from "bun:test";
import { request, testPool, waitFor } from "./support/helpers.ts";

// One pool for the whole matrix: every fault must leave it usable for the next case.
const { pool, records } = testPool({ cancelGraceMs: 50 });
afterAll(() => pool.close());

const faults: Array<[action: string, status: string, code: string, message: string | RegExp]> = [
  ["throw", "failed", "plugin_error", "thrown by plugin"],
  ["reject", "failed", "custom_code", "rejected by plugin"],
  // `bun test` workers report an unhandled rejection as an uncaught error; the code is the same.
  ["unhandled", "failed", "plugin_error", /^(Unhandled rejection|Uncaught error): nobody handles this$/],
  ["uncaught", "failed", "plugin_error", "Uncaught error: thrown from a timer"],
  ["exit", "failed", "plugin_exit", "Plugin called process.exit(7)"],
  ["kill", "failed", "plugin_exit", `Plugin called process.kill(${process.pid}, SIGKILL)`],
  ["uncloneable", "failed", "plugin_error", /^Cannot send the output of run \d+:/],
];

for (const [action, status, code, message] of faults) {
  test(`PluginPool.run() contains a plugin that does "${action}": ${code}, and the plugin still works after`, async () => {
    const outcome = await pool.run(request("faults", action));
    expect(outcome.status).toBe(status as never);
    expect(outcome.error?.code).toBe(code);
    if (typeof message === "string") expect(outcome.error?.message).toBe(message);
    else expect(outcome.error?.message).toMatch(message);
    expect(await pool.run(request("faults", "ok", { input: action }))).toEqual({ status: "succeeded", output: { ok: true, input: action } });
    expect((await pool.run(request("echo", "default"))).status).toBe("succeeded");
  });
}

test("PluginPool.run() retires a worker after an escaped error but keeps one after a plain throw", async () => {
  await pool.run(request("faults", "ok"));
  const before = pool.workers().find((w) => w.plugin === "faults@0.0.1")?.id;
  await pool.run(request("faults", "throw"));
  expect(pool.workers().find((w) => w.plugin === "faults@0.0.1")?.id).toBe(before);
  await pool.run(request("faults", "unhandled"));
  expect(pool.workers().some((w) => w.id === before)).toBe(false);
});

test("PluginPool.run() times out an infinite loop and terminates its worker", async () => {
  // A ready worker first: the 100 ms then measure the action, not a worker start on a loaded machine.
  await pool.prewarm("faults@0.0.1");
  const outcome = await pool.run(request("faults", "loop", { jobId: "spin", timeoutMs: 100 }));
  expect(outcome).toEqual({ status: "timed_out", error: { code: "plugin_timeout", message: 'Cannot finish job "spin" within 100 ms: plugin "faults@0.0.1" ran longer than allowed' } });
  expect(records.some((r) => r.msg === "Terminating plugin worker: the plugin did not stop in time" && r.jobId === "spin")).toBe(true);
  expect((await pool.run(request("faults", "ok"))).status).toBe("succeeded");
});

test("PluginPool.run() cancels a plugin that ignores cancel by terminating it after the grace", async () => {
  const cancel = new AbortController();
  const req = request("faults", "hang", { signal: cancel.signal });
  const run = pool.run(req);
  await waitFor(() => req.logs.length > 0, "the plugin to start");
  cancel.abort("stop now");
  expect(await run).toMatchObject({ status: "cancelled", error: { code: "job_cancelled", message: 'Job "faults-hang" cancelled: stop now' } });
  expect(pool.workers().every((w) => w.state !== "busy")).toBe(true);
  expect((await pool.run(request("faults", "ok"))).status).toBe("succeeded");
});

test("PluginPool.run() routes a plugin's console output into its job log", async () => {
  const req = request("faults", "console");
  expect((await pool.run(req)).status).toBe("succeeded");
  expect(req.logs.map((l) => [l.level, l.msg])).toEqual([["info", "printed with console.log"], ["error", "printed to stderr"]]);
});

test("PluginPool.run() forwards a plugin's steps in order", async () => {
  const req = request("faults", "steps");
  await pool.run(req);
  expect(req.steps).toEqual([{ id: "a", name: "Step A", status: "running" }, { id: "a", status: "succeeded", message: "done" }]);
});

const loadFaults: Array<[plugin: string, code: string, message: string]> = [
  ["not-a-plugin", "plugin_error", 'Cannot load plugin bundle "not-a-plugin@0.0.1": its default export is not a plugin (use definePlugin)'],
  ["exit-on-load", "plugin_exit", "Plugin called process.exit(3)"],
  ["throw-on-load", "plugin_error", "broken at load time"],
  ["missing-file", "plugin_error", ""],
];

for (const [plugin, code, message] of loadFaults) {
  test(`PluginPool.run() fails the job when plugin "${plugin}" cannot load, and nothing else`, async () => {
    const outcome = await pool.run(request(plugin, "default"));
    expect(outcome.status).toBe("failed");
    expect(outcome.error?.code).toBe(code);
    if (message !== "") expect(outcome.error?.message).toBe(message);
    expect(pool.workers().some((w) => w.plugin.startsWith(plugin))).toBe(false);
    expect((await pool.run(request("echo", "default"))).status).toBe("succeeded");
  });
}

// Bun ignores Worker resourceLimits (a worker may grow until the process dies), so the heap
// cap is exercised under Node and Deno by cross-runtime.test.ts instead.
test.skipIf(typeof (globalThis as { Bun?: unknown }).Bun !== "undefined")("PluginPool.run() contains a plugin that blows its heap", async () => {
  const small = testPool({ maxWorkerHeapMb: 64 }).pool;
  expect(await small.run(request("faults", "memory"))).toMatchObject({ status: "failed", error: { code: "plugin_crashed" } });
  await small.close();
});
