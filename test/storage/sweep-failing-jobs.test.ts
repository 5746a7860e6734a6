// Found by a review: a sweep stops walking after MAX_FAILED_LISTINGS_IN_A_ROW failed job listings
// in a row, and the walk's order is the store's, so three jobs whose listing always fails (a denied
// prefix, an unreadable directory) came first at every sweep and stopped it before any orphan after
// them, and before the abort of stale uploads: nothing after them was ever swept. A job whose
// listing failed is now listed after the others at the next sweep.

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { MAX_FAILED_LISTINGS_IN_A_ROW, sweepOrphans } from "../../src/storage/sweeper.ts";

/** A store whose runner listing names `jobs` in that order, each with attempt 1 holding one old object; listing a job in `failing` fails. */
function storeOf(jobs: () => Iterable<string>, failing: ReadonlySet<string>): { store: ObjectStore; deleted: string[]; listed: string[]; uploadSweeps: () => number } {
  const deleted: string[] = [];
  const listed: string[] = [];
  let uploadSweeps = 0;
  const store = {
    kind: "s3", location: "fake",
    async *children(prefix: string) {
      if (prefix === "r/") {
        for (const job of jobs()) yield `r/${job}/`;
        return;
      }
      listed.push(prefix);
      if (failing.has(prefix)) throw new Error("AccessDenied");
      yield `${prefix}1/`;
    },
    async *list(prefix: string) { yield { key: `${prefix}x`, size: 1, lastModified: 1 }; },
    async deletePrefix(prefix: string) { deleted.push(prefix); return 1; },
    async abortStaleUploads() { uploadSweeps++; return 0; },
    async close() {},
  } as unknown as ObjectStore;
  return { store, deleted, listed, uploadSweeps: () => uploadSweeps };
}

test("StorageService.sweep(): three job listings that always fail, first in the walk, no longer stop every later sweep before the orphans after them", async () => {
  expect(MAX_FAILED_LISTINGS_IN_A_ROW).toBe(3);
  const { store, deleted, listed, uploadSweeps } = storeOf(() => ["a", "b", "c", "d"], new Set(["r/a/", "r/b/", "r/c/"]));
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  // The first sweep still gives up after three in a row (a stalled store would cost each its deadlines).
  expect(await svc.sweep()).toMatchObject({ deleted: 0, failed: 3 });
  expect(listed).toEqual(["r/a/", "r/b/", "r/c/"]);
  listed.length = 0;
  // The next lists them after the rest: d is deleted (before: never, sweep after sweep), and the
  // unfinished uploads are looked at (before: never either).
  const second = await svc.sweep();
  expect(second).toMatchObject({ deleted: 1, failed: 3 });
  expect(listed).toEqual(["r/d/", "r/a/", "r/b/", "r/c/"]);
  expect(deleted).toEqual(["r/d/1/"]);
  expect(uploadSweeps()).toBe(1);
  expect([...second.failedJobs].sort()).toEqual(["r/a/", "r/b/", "r/c/"]);
  await svc.close();
});

test("sweepOrphans(): a failed job is remembered until it is listed or gone, and kept when the walk gives up before it", async () => {
  let jobs = ["a", "b", "c", "d", "e", "f"];
  const failing = new Set(["r/b/"]);
  const { store, listed } = storeOf(() => jobs, failing);
  const sweep = (failedJobs: ReadonlySet<string>) => sweepOrphans({ store, runnerPrefixes: ["r/"], busy: () => false, graceMs: 0, now: 1e12, failedJobs });
  const first = await sweep(new Set());
  expect([...first.failedJobs]).toEqual(["r/b/"]);
  // b listed again after the others; it lists now, so it is forgotten.
  failing.clear();
  listed.length = 0;
  const second = await sweep(first.failedJobs);
  expect(listed).toEqual(["r/a/", "r/c/", "r/d/", "r/e/", "r/f/", "r/b/"]);
  expect([...second.failedJobs]).toEqual([]);
  // A remembered job the walk does not name any more is gone: forgotten.
  jobs = ["a"];
  expect([...(await sweep(new Set(["r/b/"]))).failedJobs]).toEqual([]);
  // The walk gives up (three new failures in a row) before it named the remembered f: f is kept.
  jobs = ["a", "b", "c", "d", "e", "f"];
  for (const job of ["r/a/", "r/b/", "r/c/"]) failing.add(job);
  const gaveUp = await sweep(new Set(["r/f/"]));
  expect(gaveUp.failed).toBe(3);
  expect([...gaveUp.failedJobs].sort()).toEqual(["r/a/", "r/b/", "r/c/", "r/f/"]);
});

test("sweepOrphans(): after a runner listing that fails part-way the stale uploads are still looked at, but the jobs put aside are not listed; after three failed job listings in a row, neither", async () => {
  const sweep = (store: ObjectStore, failedJobs: ReadonlySet<string>) => sweepOrphans({ store, runnerPrefixes: ["r/"], busy: () => false, graceMs: 0, now: 1e12, failedJobs });
  const failsAfterD = storeOf(function* () {
    yield "a";
    yield "d";
    throw new Error("SlowDown (HTTP 503)");
  }, new Set());
  const report = await sweep(failsAfterD.store, new Set(["r/a/"]));
  expect(report).toMatchObject({ deleted: 1, failed: 1 });
  expect(failsAfterD.listed).toEqual(["r/d/"]);
  expect(failsAfterD.uploadSweeps()).toBe(1);
  expect([...report.failedJobs]).toEqual(["r/a/"]);
  const givesUp = storeOf(() => ["a", "b", "c", "d"], new Set(["r/a/", "r/b/", "r/c/"]));
  expect(await sweep(givesUp.store, new Set())).toMatchObject({ deleted: 0, failed: 3 });
  expect(givesUp.listed).toEqual(["r/a/", "r/b/", "r/c/"]);
  expect(givesUp.uploadSweeps()).toBe(0);
});
