import { afterAll, expect, test } from "bun:test";
import { PoolPolicy } from "../../src/plugins/pool-policy.ts";
import { request, testPool } from "./support/helpers.ts";

// Process isolation: each worker is a child process (`bun src/plugins/process-entry.ts` from
// source, `edge-runner __plugin-host` in the executable) talking the same worker protocol.
const policy = new PoolPolicy({ maxWorkers: 2, maxJobsPerWorker: 1000, idleMs: 60_000, prewarm: 0, isolation: "process", memoryCeilingMb: 200 });
const { pool } = testPool({ policy, cancelGraceMs: 100, artifactMaxBytes: 12_345_678 });
afterAll(() => pool.close());

test("PluginPool.run() in process isolation runs a plugin in a child process with the full SDK", async () => {
  expect(await pool.run(request("sdk-features", "outputs"))).toEqual({ status: "succeeded", output: { count: 2, names: ["a", "b"], returned: true } });
  const storage = await pool.run(request("sdk-features", "storage"));
  expect(storage.status).toBe("succeeded");
  expect((await pool.run(request("echo", "default", { input: { a: 1 } }))).output).toEqual({ a: 1 });
});

test("ActionContext.artifacts.maxBytes in process isolation is the runner's artifactMaxBytes", async () => {
  expect(await pool.run(request("sdk-features", "artifactLimit"))).toEqual({ status: "succeeded", output: { maxBytes: 12_345_678 } });
});

const faults: Array<[action: string, status: string, code: string]> = [
  ["throw", "failed", "plugin_error"],
  ["unhandled", "failed", "plugin_error"],
  ["exit", "failed", "plugin_exit"],
  ["kill", "failed", "plugin_exit"],
  ["uncloneable", "failed", "plugin_error"],
];
for (const [action, status, code] of faults) {
  test(`PluginPool.run() in process isolation contains "${action}" (${code}) and the plugin works after`, async () => {
    const outcome = await pool.run(request("faults", action));
    expect(outcome.status).toBe(status as never);
    expect(outcome.error?.code).toBe(code);
    expect((await pool.run(request("faults", "ok"))).status).toBe("succeeded");
  });
}

test("PluginPool.run() in process isolation times out an infinite loop and kills the child", async () => {
  const outcome = await pool.run(request("faults", "loop", { timeoutMs: 300 }));
  expect(outcome.status).toBe("timed_out");
  expect((await pool.run(request("faults", "ok"))).status).toBe("succeeded");
});

test("PluginPool.run() in process isolation kills a child past its memory ceiling with plugin_crashed", async () => {
  const outcome = await pool.run(request("sdk-features", "memory", { input: { mb: 400 }, timeoutMs: 30_000 }));
  expect(outcome.status).toBe("failed");
  expect(outcome.error?.code).toBe("plugin_crashed");
  expect((await pool.run(request("sdk-features", "outputs"))).status).toBe("succeeded");
});
