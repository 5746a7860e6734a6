import { afterAll, expect, test } from "bun:test";
import echo from "../../../src/plugins/builtin/echo/plugin.ts";
import { createTestContext, type TestContext } from "../../../src/plugins/test-context.ts";
import { request, testPool, waitFor } from "../support/helpers.ts";

const { pool } = testPool();
afterAll(() => pool.close());

function context(signal = new AbortController().signal): TestContext {
  return createTestContext({ jobId: "j1", signal });
}

test("echo default returns its input and logs it", async () => {
  const ctx = context();
  expect(await echo.actions.default?.({ a: [1, 2] }, ctx)).toEqual({ a: [1, 2] });
  expect(ctx.lines.map((l) => l.msg)).toEqual(['Echo: {"a":[1,2]}']);
});

test("echo default shortens a huge input in its log line", () => {
  const ctx = context();
  echo.actions.default?.("x".repeat(5000), ctx);
  expect(ctx.lines[0]?.msg).toBe(`Echo: (5000 characters, cut) ${"x".repeat(2048)}`);
});

test("echo sleep rejects a bad duration with input_invalid", () => {
  expect(() => echo.actions.sleep?.({ ms: -1 }, context())).toThrow('Cannot run echo action "sleep": "ms" must be a number from 0 to 2147483647, got -1');
});

test("echo sleep refuses ms past the longest timer (2^31-1 ms), which would fire after 1 ms", () => {
  // 3e9 ms (~35 days) used to "sleep" a few ms and succeed.
  for (const ms of [2 ** 31, 3e9]) {
    expect(() => echo.actions.sleep?.({ ms }, context())).toThrow(`"ms" must be a number from 0 to 2147483647, got ${ms}`);
  }
});

test("echo sleep resolves after ms and stops early on abort", async () => {
  expect(await echo.actions.sleep?.({ ms: 1 }, context())).toEqual({ sleptMs: 1 });
  const abort = new AbortController();
  const slept = echo.actions.sleep?.({ ms: 60_000 }, context(abort.signal)) as Promise<unknown>;
  abort.abort();
  await expect(slept).rejects.toThrow("Echo sleep cancelled");
});

test("echo fail throws the given message as plugin_error through the pool", async () => {
  expect(await pool.run(request("echo", "fail", { input: { message: "as planned" } }))).toEqual({ status: "failed", error: { code: "plugin_error", message: "as planned" } });
});

test("echo sleep in a worker ends cancelled when the job is cancelled", async () => {
  const abort = new AbortController();
  const run = pool.run(request("echo", "sleep", { input: { ms: 60_000 }, signal: abort.signal }));
  await waitFor(() => pool.workers().some((w) => w.state === "busy"), "the sleep to start");
  abort.abort();
  expect((await run).status).toBe("cancelled");
});
