import { afterAll, expect, test } from "bun:test";
import { parsePoolPolicy, PoolPolicy, type PluginPolicy } from "../../src/plugins/pool-policy.ts";
import { request, testPool, waitFor } from "./support/helpers.ts";

const defaults: PluginPolicy = { maxWorkers: 4, maxJobsPerWorker: 1000, idleMs: 60_000, prewarm: 0, isolation: "thread", memoryCeilingMb: 256 };
const noFile = (path: string): string => {
  throw new Error(`ENOENT: ${path}`);
};

test("parsePoolPolicy() merges default, name and name@version entries", () => {
  const policy = parsePoolPolicy(JSON.stringify({ default: { maxWorkers: 2 }, hello: { idleMs: 5000 }, "hello@2.0.0": { isolation: "process", memoryCeilingMb: 128 } }), defaults, noFile);
  expect(policy.for("echo")).toEqual({ ...defaults, maxWorkers: 2 });
  expect(policy.for("hello", "1.0.0")).toEqual({ ...defaults, maxWorkers: 2, idleMs: 5000 });
  expect(policy.for("hello", "2.0.0")).toEqual({ ...defaults, maxWorkers: 2, idleMs: 5000, isolation: "process", memoryCeilingMb: 128 });
});

test("parsePoolPolicy() reads a JSON file when the value is a path", () => {
  const policy = parsePoolPolicy("/etc/policy.json", defaults, () => `{"http": {"prewarm": 2}}`);
  expect(policy.prewarmList()).toEqual([{ plugin: "http", count: 2 }]);
});

test("parsePoolPolicy() names the entry and field of a bad value", () => {
  expect(() => parsePoolPolicy(`{"hello": {"maxWorkers": 0}}`, defaults, noFile)).toThrow('Cannot use "pluginPolicy" entry "hello": "maxWorkers" must be an integer from 1 to 1024, got 0');
  expect(() => parsePoolPolicy(`{"hello": {"isolation": "vm"}}`, defaults, noFile)).toThrow('"isolation" must be "thread" or "process", got "vm"');
  expect(() => parsePoolPolicy(`{"hello": {"workers": 1}}`, defaults, noFile)).toThrow('Cannot use "pluginPolicy" entry "hello": unknown field "workers"');
  expect(() => parsePoolPolicy(`{"Bad Name": {}}`, defaults, noFile)).toThrow('Cannot use "pluginPolicy" entry "Bad Name": expected "default", a plugin name or name@version');
  expect(() => parsePoolPolicy(`{"hello": {"prewarm": 1}}`, defaults, noFile)).toThrow('pre-warming a plugin bundle needs its version ("hello@1.2.3")');
  expect(() => parsePoolPolicy(`{"default": {"prewarm": 1}}`, defaults, noFile)).toThrow('"prewarm" applies to a named plugin only');
  expect(() => parsePoolPolicy(`{"hello": `, defaults, noFile)).toThrow('Cannot read "pluginPolicy" JSON:');
  expect(() => parsePoolPolicy("/missing.json", defaults, noFile)).toThrow('Cannot read "pluginPolicy" file "/missing.json": ENOENT: /missing.json');
});

const policy = new PoolPolicy(defaults, new Map([
  ["sdk-features", { memoryCeilingMb: 32 }],
  ["faults", { maxJobsPerWorker: 2, maxWorkers: 1 }],
  ["echo", { prewarm: 2 }],
]));
const { pool, records } = testPool({ policy });
afterAll(() => pool.close());

test("PluginPool recycles a thread worker whose reported heap passes its memory ceiling", async () => {
  expect((await pool.run(request("sdk-features", "memory", { input: { mb: 64 } }))).status).toBe("succeeded");
  await waitFor(() => records.some((r) => r.msg === "Recycling plugin worker past its memory ceiling"), "the recycle");
  await waitFor(() => pool.workers().every((w) => w.plugin !== "sdk-features@0.0.1"), "the worker to go");
  expect((await pool.run(request("sdk-features", "outputs"))).status).toBe("succeeded");
});

test("PluginPool applies maxJobsPerWorker per plugin", async () => {
  const ids = new Set<number>();
  for (let i = 0; i < 4; i++) {
    expect((await pool.run(request("faults", "ok"))).status).toBe("succeeded");
    for (const w of pool.workers()) if (w.plugin === "faults@0.0.1" && w.state !== "stopping") ids.add(w.id);
  }
  expect(ids.size).toBeGreaterThanOrEqual(2);
});

test("PluginPool.prewarmAll() starts the policy's workers and WorkerInfo reports their memory after a job", async () => {
  await pool.prewarmAll();
  expect(pool.workers().filter((w) => w.plugin === "echo" && w.state === "idle")).toHaveLength(2);
  await pool.run(request("echo", "sleep", { input: { ms: 2 } }));
  expect(pool.workers().some((w) => w.plugin === "echo" && typeof w.memoryBytes === "number" && w.memoryBytes > 0)).toBe(true);
});
