import { describe, expect, test } from "bun:test";
import { JobQueue } from "../../src/reference-controller/job-queue.ts";

describe("JobQueue", () => {
  test("keeps FIFO order, puts a re-queued job back at its place, removes by id", () => {
    const q = new JobQueue();
    for (const [id, seq] of [["a", 1], ["b", 2], ["c", 3]] as const) q.insert(id, seq);
    expect(q.shift()).toBe("a");
    q.insert("a", 1);
    expect(q.ids()).toEqual(["a", "b", "c"]);
    expect(q.remove("b")).toBe(true);
    expect(q.remove("b")).toBe(false);
    expect(q.ids()).toEqual(["a", "c"]);
    expect(q.size).toBe(2);
  });

  // Every job that finishes is removed from its queue, where it no longer is (it was shifted
  // out when leased). With a backlog of n jobs that used to scan all n each time: n² over a
  // backlog (issue 15, the controller's profile). 40,000 such removals over a 40,000-job backlog
  // were 1.6 billion comparisons (tens of seconds); now a set lookup each. The bound is loose.
  test("removing a job that is not queued does not scan the backlog", () => {
    const q = new JobQueue();
    const n = 40_000;
    for (let i = 0; i < n; i++) q.insert(`job-${i}`, i);
    const started = performance.now();
    for (let i = 0; i < n; i++) expect(q.remove(`gone-${i}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(q.size).toBe(n);
  });
});
