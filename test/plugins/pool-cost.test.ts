// The cost side of the pool (issue 15): a job that makes no host call (ctx.secrets, ctx.storage,
// ctx.artifacts) must not pay for them. AbortSignal.any() per job, an AbortController and a
// "storage_closed" error with its stack at every job's end showed in the runner's profile.
import { afterEach, expect, test } from "bun:test";
import type { PluginPool } from "../../src/plugins/pool.ts";
import { request, testPool } from "./support/helpers.ts";

const pools: PluginPool[] = [];
const realAny = AbortSignal.any;
afterEach(async () => {
  AbortSignal.any = realAny;
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

test("jobs without host calls combine no signals; a job that resolves a secret still gets its interrupt", async () => {
  const { pool } = testPool();
  pools.push(pool);
  let combined = 0;
  AbortSignal.any = (signals: AbortSignal[]) => {
    combined++;
    return realAny.call(AbortSignal, signals);
  };
  const interrupt = new AbortController();
  for (let i = 0; i < 10; i++) {
    const outcome = await pool.run(request("echo", "default", { jobId: `plain-${i}`, input: { i }, interrupt: interrupt.signal }));
    expect(outcome).toEqual({ status: "succeeded", output: { i } });
  }
  expect(combined).toBe(0);

  const secret = request("echo", "secret", { jobId: "with-secret", input: { ref: "token" }, secrets: { token: "s3cr3t-value" }, declaredSecrets: ["token"], interrupt: interrupt.signal });
  const outcome = await pool.run(secret);
  expect(outcome.status).toBe("succeeded");
  expect(combined).toBe(1);
});
