// LocalQueue with a hand-driven clock: how much it holds (as fast as slots free) and when a held
// job is due back. The runner's use of it against the real controller: prefetch.test.ts.

import { expect, test } from "bun:test";
import type { JobHandle } from "../../src/controller/connection.ts";
import { LocalQueue } from "../../src/runner/local-queue.ts";

function harness(capacity = 3, holdMs = 1000, canGiveBack?: () => boolean) {
  let t = 0;
  const timers = new Map<number, { at: number; run: () => void }>();
  let next = 1;
  const overdue: string[][] = [];
  const aborted: string[] = [];
  const queue = new LocalQueue({
    capacity,
    holdMs,
    timers: {
      now: () => t,
      setTimeout: (run, ms) => (timers.set(next, { at: t + ms, run }), next++),
      clearTimeout: (id) => void timers.delete(id as number),
    },
    onOverdue: (handles) => overdue.push(handles.map((h) => h.job.id)),
    onAborted: (handle) => aborted.push(handle.job.id),
    ...(canGiveBack === undefined ? {} : { canGiveBack }),
  });
  const advance = (ms: number) => {
    t += ms;
    for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > t) continue;
      timers.delete(id);
      timer.run();
    }
  };
  const handle = (id: string): JobHandle & { cancel: () => void } => {
    const abort = new AbortController();
    return {
      job: { id, attempt: 1, group: "g", plugin: "echo", action: "default", input: null, leaseExpiresAt: 0, submittedAt: 0 },
      signal: abort.signal,
      accept() {}, reject() {}, log() {}, step() {},
      complete: async () => ({ accepted: true }),
      cancel: () => abort.abort("cancelled"),
    };
  };
  return { queue, advance, handle, overdue, aborted };
}

test("LocalQueue.room() holds only as fast as slots free: none before jobs end, none once they stop ending", () => {
  const { queue, advance } = harness(3, 1000);
  expect(queue.room()).toBe(0);
  queue.ended();
  queue.ended();
  expect(queue.room()).toBe(2);
  for (let i = 0; i < 5; i++) queue.ended();
  expect(queue.room()).toBe(3);
  // Ends older than half the bound no longer count: a runner busy with long jobs holds none.
  advance(501);
  expect(queue.room()).toBe(0);
});

test("LocalQueue gives back held jobs past the bound, oldest first, and drops an aborted one", () => {
  const { queue, advance, handle, overdue, aborted } = harness(3, 1000);
  const [a, b, c] = [handle("a"), handle("b"), handle("c")];
  queue.hold(a);
  advance(400);
  queue.hold(b);
  queue.hold(c);
  c.cancel();
  expect(aborted).toEqual(["c"]);
  expect(queue.list().map((h) => h.jobId)).toEqual(["a", "b"]);
  advance(600);
  expect(overdue).toEqual([["a"]]);
  expect(queue.take()?.job.id).toBe("b");
  advance(1000);
  expect(overdue).toEqual([["a"]]);
  expect(queue.size).toBe(0);
});

test("LocalQueue keeps held jobs past the bound while they cannot go back, and gives them back once they can", () => {
  let releases = false;
  const { queue, advance, handle, overdue } = harness(3, 1000, () => releases);
  queue.hold(handle("a"));
  advance(400);
  queue.hold(handle("b"));
  // A controller that would ignore a release: both stay held, in offer order, to start as slots free.
  advance(2000);
  expect(overdue).toEqual([]);
  expect(queue.list().map((h) => h.jobId)).toEqual(["a", "b"]);
  expect(queue.take()?.job.id).toBe("a");
  // One that takes them back again: the rest go back at the next look.
  releases = true;
  advance(1000);
  expect(overdue).toEqual([["b"]]);
  expect(queue.size).toBe(0);
});
