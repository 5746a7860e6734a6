// runJob() in memory: a scripted handle and a fake executor, an injected clock, no ports.

import { expect, test } from "bun:test";
import { redactor } from "../../src/log/redact.ts";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import { MAX_OUTPUT_CHARS, SEND_LOG_LINES } from "../../src/protocol/limits.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { runJob } from "../../src/runner/job-runner.ts";
import { offer, ScriptedHandle } from "../helpers/scripted.ts";

function executor(body: (request: RunRequest) => Promise<JobOutcome> | JobOutcome): JobExecutor & { requests: RunRequest[] } {
  const requests: RunRequest[] = [];
  return { requests, run: async (request) => { requests.push(request); return body(request); }, workers: () => [], close: async () => {} };
}

function clock(...times: number[]): () => number {
  return () => times.shift() ?? Number.NaN;
}

test("runJob() accepts first, hands the pool the job, its cancel signal, the interrupt and the scope, and reports the outcome with its timing", async () => {
  const handle = new ScriptedHandle(offer("j1", { plugin: "echo", action: "default", input: { a: 1 }, timeoutMs: 5000 }));
  const interrupt = new AbortController();
  const scope = redactor.child("test j1");
  const exec = executor(() => ({ status: "succeeded", output: { a: 1 } }));
  const result = await runJob(handle, { executor: exec, defaultTimeoutMs: 30_000, interrupt: interrupt.signal, redaction: scope, now: clock(100, 250) });
  expect(handle.calls[0]).toEqual({ call: "accept" });
  expect(result).toEqual({ status: "succeeded", output: { a: 1 }, startedAt: 100, finishedAt: 250 });
  const [request] = exec.requests;
  expect(request).toMatchObject({ jobId: "j1", attempt: 1, plugin: "echo", action: "default", input: { a: 1 }, timeoutMs: 5000 });
  expect(request?.signal).toBe(handle.signal);
  expect(request?.interrupt).toBe(interrupt.signal);
  expect(request?.redaction).toBe(scope);
  scope.dispose();
});

test("runJob() uses the runner's default timeout when the offer has none", async () => {
  const exec = executor(() => ({ status: "succeeded" }));
  await runJob(new ScriptedHandle(offer("j2")), { executor: exec, defaultTimeoutMs: 1234, interrupt: new AbortController().signal, redaction: redactor, now: clock(1, 2) });
  expect(exec.requests[0]?.timeoutMs).toBe(1234);
});

test("runJob() batches a burst of log lines into one message per tick, cut at the send limit, and flushes them before a step", async () => {
  const handle = new ScriptedHandle(offer("j3"));
  const exec = executor(async (request) => {
    for (let i = 1; i <= SEND_LOG_LINES + 2; i++) request.onLog({ ts: i, level: "info", msg: `line ${i}` });
    request.onStep({ id: "s", status: "running" });
    request.onLog({ ts: 9999, level: "info", msg: "after the step" });
    await Promise.resolve();
    return { status: "succeeded" };
  });
  await runJob(handle, { executor: exec, defaultTimeoutMs: 1000, interrupt: new AbortController().signal, redaction: redactor, now: clock(1, 2) });
  const shape = handle.calls.map((c) => (c.call === "log" ? `log:${c.lines.length}` : c.call));
  expect(shape).toEqual(["accept", `log:${SEND_LOG_LINES}`, "log:2", "step", "log:1"]);
  const lines = handle.calls.flatMap((c) => (c.call === "log" ? c.lines.map((l) => l.ts) : []));
  expect(lines).toEqual([...Array.from({ length: SEND_LOG_LINES + 2 }, (_, i) => i + 1), 9999]);
});

test("runJob() fails a job whose output does not fit a frame, or cannot be JSON, with output_invalid", async () => {
  const big = await runJob(new ScriptedHandle(offer("j4")), {
    executor: executor(() => ({ status: "succeeded", output: "y".repeat(MAX_OUTPUT_CHARS + 1) })),
    defaultTimeoutMs: 1000, interrupt: new AbortController().signal, redaction: redactor, now: clock(5, 6),
  });
  expect(big).toMatchObject({ status: "failed", startedAt: 5, finishedAt: 6, error: { code: "output_invalid" } });
  expect(big.output).toBeUndefined();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const bad = await runJob(new ScriptedHandle(offer("j5")), {
    executor: executor(() => ({ status: "succeeded", output: cyclic })),
    defaultTimeoutMs: 1000, interrupt: new AbortController().signal, redaction: redactor, now: clock(5, 6),
  });
  expect(bad.error).toEqual({ code: "output_invalid", message: "The job's output cannot be sent as JSON (a cycle, or a BigInt)" });
});

test("runJob() fails a job whose output nests past the controller's depth with output_invalid, not a result the controller refuses as malformed", async () => {
  const nested = (depth: number): unknown => JSON.parse("[".repeat(depth) + "]".repeat(depth));
  const run = (output: unknown) => runJob(new ScriptedHandle(offer("j6")), {
    executor: executor(() => ({ status: "succeeded", output })),
    defaultTimeoutMs: 1000, interrupt: new AbortController().signal, redaction: redactor, now: clock(5, 6),
  });
  // 150 levels: past the controller's message depth (100), so its result would never be acknowledged.
  const deep = await run(nested(150));
  expect(deep).toMatchObject({ status: "failed", error: { code: "output_invalid", message: "The job's output nests deeper than 64 levels of arrays and objects, which the controller does not store" } });
  expect(deep.output).toBeUndefined();
  expect(await run(nested(64))).toMatchObject({ status: "succeeded" });
});

test("runJob() reports the pool's `interrupted` as it is: it no longer rebuilds it from signals", async () => {
  const interrupt = new AbortController();
  interrupt.abort("interrupted");
  const outcome: JobOutcome = { status: "interrupted", error: { code: "job_interrupted", message: "The runner stopped before the job finished" } };
  const result = await runJob(new ScriptedHandle(offer("j6")), { executor: executor(() => outcome), defaultTimeoutMs: 1000, interrupt: interrupt.signal, redaction: redactor, now: clock(1, 2) });
  expect(result).toEqual({ ...outcome, startedAt: 1, finishedAt: 2 });
});
