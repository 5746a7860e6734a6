// The Runner in memory: a scripted controller connection, a fake executor and a hand-driven
// clock, no ports (the socket end-to-end tests stay in runner-e2e.test.ts).

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { redactor, type RedactionScope } from "../../src/log/redact.ts";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { Runner } from "../../src/runner/runner.ts";
import { ManualClock, offer, ScriptedConnection, ScriptedHandle, settle } from "../helpers/scripted.ts";

/** An executor whose runs end when the test says, or `interrupted` when the runner interrupts. */
class HeldExecutor implements JobExecutor {
  readonly requests: RunRequest[] = [];
  readonly #finish = new Map<string, (outcome: JobOutcome) => void>();
  closed = false;

  run(request: RunRequest): Promise<JobOutcome> {
    this.requests.push(request);
    return new Promise((resolve) => {
      this.#finish.set(request.jobId, resolve);
      request.interrupt?.addEventListener("abort", () => resolve({ status: "interrupted", error: { code: "job_interrupted", message: "The runner stopped before the job finished" } }), { once: true });
    });
  }
  finish(jobId: string, outcome: JobOutcome): void { this.#finish.get(jobId)?.(outcome); }
  workers(): [] { return []; }
  async close(): Promise<void> { this.closed = true; }
}

function setup(options: { concurrency?: number; drainTimeoutMs?: number } = {}) {
  const clock = new ManualClock();
  const connection = new ScriptedConnection();
  const executor = new HeldExecutor();
  const { logger, records } = memoryLogger();
  const runner = new Runner({
    runnerId: "r1", group: "g", controllerUrl: "http://127.0.0.1:1", concurrency: options.concurrency ?? 2,
    jobTimeoutMs: 30_000, drainTimeoutMs: options.drainTimeoutMs ?? 10_000, connection, executor, logger, timers: clock, flushTimeoutMs: 1000,
  });
  return { clock, connection, executor, runner, records };
}

test("Runner follows the connection's state changes: connecting, ready while connected, connecting again when it drops", () => {
  const { runner, connection } = setup();
  runner.start();
  expect(runner.lifecycle.state).toBe("connecting");
  connection.to("connected");
  expect(runner.lifecycle.state).toBe("ready");
  connection.to("backoff", "WebSocket closed (1006)");
  expect(runner.lifecycle.state).toBe("connecting");
  connection.to("unauthorized");
  expect(runner.lifecycle.state).toBe("connecting");
  connection.to("connected");
  expect(runner.lifecycle.state).toBe("ready");
  void runner.interruptNow();
});

test("Runner runs an offered job, completes its handle with the result, then gives the slot back", async () => {
  const { runner, connection, executor, clock } = setup();
  runner.start();
  connection.to("connected");
  expect(connection.freeSlots.at(-1)).toBe(2);
  const handle = new ScriptedHandle(offer("j1"));
  connection.give(handle);
  expect(runner.runningCount).toBe(1);
  expect(connection.freeSlots.at(-1)).toBe(1);
  await clock.advance(40);
  executor.finish("j1", { status: "succeeded", output: 7 });
  await settle();
  expect(handle.completed).toEqual({ status: "succeeded", output: 7, startedAt: 1_000_000, finishedAt: 1_000_040 });
  expect(runner.runningCount).toBe(0);
  expect(connection.freeSlots.at(-1)).toBe(2);
  expect(runner.snapshot().recent[0]).toMatchObject({ jobId: "j1", status: "succeeded", durationMs: 40 });
  await runner.drain();
  expect(runner.lifecycle.state).toBe("stopped");
  expect(executor.closed).toBe(true);
});

test("Runner rejects an offer beyond its slots with no_free_slot, and one while draining with runner_draining", async () => {
  const { runner, connection, clock } = setup({ concurrency: 1, drainTimeoutMs: 0 });
  runner.start();
  connection.to("connected");
  connection.give(new ScriptedHandle(offer("j1")));
  const extra = new ScriptedHandle(offer("j2"));
  connection.give(extra);
  expect(extra.calls).toEqual([{ call: "reject", error: { code: "no_free_slot", message: "The runner has no free slot" } }]);
  const draining = runner.drain();
  const late = new ScriptedHandle(offer("j3"));
  connection.give(late);
  expect(late.calls).toEqual([{ call: "reject", error: { code: "runner_draining", message: "The runner is draining and takes no new jobs" } }]);
  await clock.advance(0);
  await draining;
});

test("Runner.drain() past its timeout interrupts the running job, which the executor reports `interrupted`", async () => {
  const { runner, connection, clock, executor } = setup({ drainTimeoutMs: 5000 });
  runner.start();
  connection.to("connected");
  const handle = new ScriptedHandle(offer("j1"));
  connection.give(handle);
  const drained = runner.drain();
  await settle();
  expect(runner.lifecycle.state).toBe("draining");
  expect(connection.freeSlots.at(-1)).toBe(0);
  expect(executor.requests[0]?.interrupt?.aborted).toBe(false);
  await clock.advance(5000);
  await drained;
  expect(executor.requests[0]?.interrupt?.aborted).toBe(true);
  expect(handle.completed?.status).toBe("interrupted");
  expect(connection.flushed).toBe(1);
  expect(runner.lifecycle.state).toBe("stopped");
});

test("Runner gives each job its own redaction scope and ends it with the job; an adapter's own scope is used and left alone", async () => {
  const { runner, connection, executor } = setup();
  runner.start();
  connection.to("connected");
  connection.give(new ScriptedHandle(offer("j1")));
  const scope = executor.requests[0]?.redaction as RedactionScope;
  expect(scope).not.toBe(redactor);
  scope.add("per-job-secret-value");
  expect(redactor.text("per-job-secret-value")).toBe("[REDACTED]");
  executor.finish("j1", { status: "succeeded" });
  await settle();
  expect(redactor.text("per-job-secret-value")).toBe("per-job-secret-value");
  const adapterScope = redactor.child("adapter run");
  connection.give(new ScriptedHandle(offer("j2"), adapterScope));
  expect(executor.requests[1]?.redaction).toBe(adapterScope);
  executor.finish("j2", { status: "succeeded" });
  await settle();
  expect(adapterScope.disposed).toBe(false);
  adapterScope.dispose();
  await runner.drain();
});
