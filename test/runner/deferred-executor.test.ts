// The executor `edge-runner run` builds at the first job (src/runner/deferred-executor.ts):
// built once however many jobs arrive together, reports no workers until then, a failed build
// fails jobs with its reason instead of rejecting, and closing closes what was built.

import { expect, test } from "bun:test";
import { DeferredExecutor } from "../../src/runner/deferred-executor.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import { EdgeError } from "../../src/errors.ts";

const request = { jobId: "j1", attempt: 1, plugin: "echo", action: "default", input: { n: 1 } } as unknown as RunRequest;

function fakeExecutor(): JobExecutor & { closed: number; ran: number } {
  const fake = {
    closed: 0,
    ran: 0,
    async run() {
      fake.ran++;
      return { status: "succeeded" as const, output: { ok: true } };
    },
    workers: () => [{ plugin: "echo" }] as unknown as ReturnType<JobExecutor["workers"]>,
    async close() {
      fake.closed++;
    },
  };
  return fake;
}

test("nothing is built before the first job; jobs that arrive together share one build", async () => {
  const inner = fakeExecutor();
  let builds = 0;
  const deferred = new DeferredExecutor(async () => {
    builds++;
    return inner;
  });
  expect({ state: deferred.state, builds, workers: deferred.workers() }).toEqual({ state: "idle", builds: 0, workers: [] });
  const outcomes = await Promise.all([deferred.run(request), deferred.run(request), deferred.run(request)]);
  expect(outcomes.map((o) => o.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
  expect({ state: deferred.state, builds, ran: inner.ran, workers: deferred.workers().length }).toEqual({ state: "built", builds: 1, ran: 3, workers: 1 });
});

test("a build that fails fails each job with its reason (never a rejection)", async () => {
  const deferred = new DeferredExecutor(async () => {
    throw new EdgeError("internal", "Cannot load the plugin pool: broken");
  });
  const outcome = await deferred.run(request);
  expect(outcome).toEqual({ status: "failed", error: { code: "internal", message: "Cannot load the plugin pool: broken" } });
  expect(deferred.state).toBe("failed");
});

test("close() before any job builds nothing; after a job it closes what was built", async () => {
  let builds = 0;
  const idle = new DeferredExecutor(async () => {
    builds++;
    return fakeExecutor();
  });
  await idle.close();
  expect({ builds, state: idle.state }).toEqual({ builds: 0, state: "closed" });

  const inner = fakeExecutor();
  const used = new DeferredExecutor(async () => inner);
  await used.run(request);
  await used.close();
  expect(inner.closed).toBe(1);
});

test("once built, a job reaches the executor in the same turn (no promise hop on the way to the first line)", async () => {
  const inner = fakeExecutor();
  const deferred = new DeferredExecutor(async () => inner);
  await deferred.build();
  const outcome = deferred.run(request);
  expect(inner.ran).toBe(1);
  expect((await outcome).status).toBe("succeeded");
});
