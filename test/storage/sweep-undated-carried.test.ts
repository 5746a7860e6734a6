// Found by a review: an attempt whose objects carry no date (and an unfinished upload listed
// without one) is dated by when a sweep of this process first saw it, but each sweep's map held
// only what that sweep reached, and StorageService handed it on as it was. A sweep that failed
// part-way (the runner listing, three job listings in a row, the uploads' listing) forgot what it
// did not reach, the next one saw it "now" again, and on a store that failed every other sweep it
// never got past the grace period: left for ever. The map is now carried on, and an entry goes
// only once a sweep found its attempt dated, empty or deleted, or a listing that ended no longer
// names it.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectInfo, ObjectStore, StaleUploadOptions } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import type { SweepReport } from "../../src/storage/sweep-report.ts";
import { sweepOrphans } from "../../src/storage/sweeper.ts";
import { undatedOrphanS3 } from "./undated-orphan-s3.ts";

const HOUR = 3_600_000;
const T0 = 1_000_000_000_000;

interface Fake {
  store: ObjectStore;
  deleted: string[];
  aborted: string[];
  /** Job prefixes whose listing fails, and whether the runner and the uploads' listings fail. */
  failing: Set<string>;
  objects: Map<string, ObjectInfo[]>;
  uploads: Array<{ key: string; uploadId: string; initiated: number }>;
}

/** A store holding `objects` by attempt prefix under runner prefix `r/`, and `uploads`; what is listed follows the maps. */
function fakeStore(objects: Record<string, Array<{ key: string; lastModified: number }>>): Fake {
  const fake: Fake = {
    deleted: [],
    aborted: [],
    failing: new Set(),
    objects: new Map(Object.entries(objects).map(([prefix, list]) => [prefix, list.map((o) => ({ ...o, size: 1 }))])),
    uploads: [],
    store: undefined as unknown as ObjectStore,
  };
  const jobsOf = () => [...new Set([...fake.objects.keys()].map((prefix) => prefix.split("/").slice(0, 2).join("/") + "/"))].sort();
  fake.store = {
    kind: "s3", location: "fake",
    async *children(prefix: string) {
      if (fake.failing.has(prefix)) throw new Error(`SlowDown listing ${prefix}`);
      if (prefix === "r/") yield* jobsOf();
      else for (const attempt of fake.objects.keys()) if (attempt.startsWith(prefix)) yield attempt;
    },
    async *list(prefix: string) { yield* fake.objects.get(prefix) ?? []; },
    async deletePrefix(prefix: string) {
      fake.deleted.push(prefix);
      fake.objects.delete(prefix);
      return 1;
    },
    async abortStaleUploads(_prefix: string, options: StaleUploadOptions) {
      if (fake.failing.has("uploads")) throw new Error("SlowDown listing uploads");
      let aborted = 0;
      for (const upload of [...fake.uploads]) {
        if (!options.stale(upload)) continue;
        fake.aborted.push(upload.uploadId);
        fake.uploads.splice(fake.uploads.indexOf(upload), 1);
        aborted++;
      }
      return aborted;
    },
    async close() {},
  } as unknown as ObjectStore;
  return fake;
}

/** Sweeps every 30 minutes for `hours` (grace 1 h), the report handed on as StorageService does; `before(i)` sets up sweep i. */
async function sweepEvery30Minutes(fake: Fake, hours: number, before: (i: number) => void, busy: (prefix: string) => boolean = () => false): Promise<SweepReport[]> {
  const reports: SweepReport[] = [];
  let last: SweepReport | undefined;
  for (let i = 0; i < hours * 2; i++) {
    before(i);
    last = await sweepOrphans({ store: fake.store, runnerPrefixes: ["r/"], busy, graceMs: HOUR, now: T0 + i * HOUR / 2, ...(last === undefined ? {} : { undatedSince: last.undatedSince, failedJobs: last.failedJobs }) });
    reports.push(last);
  }
  return reports;
}

/** A `before` for sweepEvery30Minutes(): the listings of `names` (prefixes, or "uploads") fail on odd sweeps only. */
const failingOnOddSweeps = (fake: Fake, ...names: string[]) => (i: number): void => {
  for (const name of names) if (i % 2 === 1) fake.failing.add(name); else fake.failing.delete(name);
};

/** Three jobs holding one dated object each, too young to go: listed before any later job. */
const YOUNG_JOBS = ["r/a/", "r/b/", "r/c/"];
const youngAttempts = (): Record<string, Array<{ key: string; lastModified: number }>> =>
  Object.fromEntries(YOUNG_JOBS.map((job) => [`${job}1/`, [{ key: `${job}1/k`, lastModified: T0 + 10 * HOUR }]]));

test("sweepOrphans(): an undated orphan is deleted once past the grace though the runner listing fails every other sweep", async () => {
  const fake = fakeStore({ "r/undated/1/": [{ key: "r/undated/1/k", lastModified: 0 }] });
  const reports = await sweepEvery30Minutes(fake, 10, failingOnOddSweeps(fake, "r/"));
  // First seen at sweep 0, failed at 1, one hour old at 2 (before: seen "now" again at every even sweep, never deleted).
  expect(fake.deleted).toEqual(["r/undated/1/"]);
  expect(reports.findIndex((r) => r.deleted === 1)).toBe(2);
  expect(reports[1]?.undatedSince).toEqual(new Map([["r/undated/1/", T0]]));
  expect(reports.at(-1)?.undatedSince.size).toBe(0);
});

test("sweepOrphans(): an undated orphan is deleted once past the grace though every other sweep gives up after three failed job listings", async () => {
  const fake = fakeStore({ ...youngAttempts(), "r/z/1/": [{ key: "r/z/1/k", lastModified: 0 }] });
  // a, b and c (dated, too young to go) fail on odd sweeps: the walk gives up before z. On
  // even sweeps they failed last time, so they are listed after z.
  const reports = await sweepEvery30Minutes(fake, 3, failingOnOddSweeps(fake, ...YOUNG_JOBS));
  expect(reports.map((r) => r.failed)).toEqual([0, 3, 0, 3, 0, 3]);
  expect(fake.deleted).toEqual(["r/z/1/"]);
  expect(reports.findIndex((r) => r.deleted > 0)).toBe(2);
});

test("sweepOrphans(): an undated unfinished upload is aborted once past the grace though the uploads' listing fails every other sweep", async () => {
  const fake = fakeStore({});
  fake.uploads.push({ key: "r/j/1/big", uploadId: "u1", initiated: 0 });
  const reports = await sweepEvery30Minutes(fake, 10, failingOnOddSweeps(fake, "uploads"));
  // First seen at sweep 0; an upload goes once strictly older than the grace, so not at sweep 2;
  // sweep 3 fails; aborted at 4 (before: seen "now" again at every even sweep, never aborted).
  expect(fake.aborted).toEqual(["u1"]);
  expect(reports.findIndex((r) => r.abortedUploads === 1)).toBe(4);
  expect(reports.at(-1)?.undatedSince.size).toBe(0);
});

test("sweepOrphans(): an undated unfinished upload is aborted once past the grace though every other sweep stops before the uploads' listing", async () => {
  const fake = fakeStore(youngAttempts());
  fake.uploads.push({ key: "r/j/1/big", uploadId: "u1", initiated: 0 });
  const reports = await sweepEvery30Minutes(fake, 3, failingOnOddSweeps(fake, ...YOUNG_JOBS));
  expect(reports.map((r) => r.failed)).toEqual([0, 3, 0, 3, 0, 3]);
  expect(fake.aborted).toEqual(["u1"]);
  expect(reports.findIndex((r) => r.abortedUploads === 1)).toBe(4);
});

test("sweepOrphans(): a remembered attempt is forgotten once found dated, empty or deleted, or no longer listed, and kept while its job's listing fails or it is in use", async () => {
  const fake = fakeStore({
    "r/dated/1/": [{ key: "r/dated/1/k", lastModified: T0 }],
    "r/empty/1/": [],
    "r/old/1/": [{ key: "r/old/1/k", lastModified: 0 }],
    "r/gone/3/": [{ key: "r/gone/3/k", lastModified: T0 }],
    "r/kept/1/": [{ key: "r/kept/1/k", lastModified: 0 }],
    "r/busy/1/": [{ key: "r/busy/1/k", lastModified: 0 }],
  });
  fake.failing.add("r/kept/");
  const earlier = new Map([
    ["r/dated/1/", T0 - HOUR], ["r/empty/1/", T0 - HOUR], ["r/old/1/", T0 - HOUR], ["r/gone/1/", T0 - HOUR], ["r/gone/2/", T0 - HOUR],
    ["r/vanished/1/", T0 - HOUR], ["r/kept/1/", T0 - HOUR], ["r/busy/1/", T0 - HOUR],
  ]);
  const report = await sweepOrphans({ store: fake.store, runnerPrefixes: ["r/"], busy: (prefix) => prefix === "r/busy/1/", graceMs: 2 * HOUR, now: T0 + HOUR, undatedSince: earlier });
  // old: first seen two hours ago, past the grace: deleted. gone/1 and gone/2: its job's listing
  // ended without them. vanished: the runner's listing ended without its job.
  expect(fake.deleted).toEqual(["r/old/1/"]);
  expect(report.undatedSince).toEqual(new Map([["r/kept/1/", T0 - HOUR], ["r/busy/1/", T0 - HOUR]]));
});

test("sweepOrphans(): a remembered upload is forgotten once listed with a date, aborted or no longer listed, and kept while in use", async () => {
  const fake = fakeStore({});
  const upload = (name: string) => ({ key: `r/${name === "b" ? "busy" : "j"}/1/${name}`, uploadId: name, initiated: 0 });
  fake.uploads.push(upload("d"), upload("o"), upload("y"), upload("n"), upload("b"));
  const sweep = (now: number, undatedSince?: ReadonlyMap<string, number>) =>
    sweepOrphans({ store: fake.store, runnerPrefixes: ["r/"], busy: (prefix) => now > T0 && prefix === "r/busy/1/", graceMs: HOUR, now, ...(undatedSince === undefined ? {} : { undatedSince }) });
  const first = await sweep(T0);
  expect(first.undatedSince.size).toBe(5);
  const entry = (name: string) => [...first.undatedSince.keys()].find((id) => id.includes(`"${name}"`)) as string;
  // d is listed with a date now (young), n no longer (another process aborted it).
  (fake.uploads[0] as { initiated: number }).initiated = T0 + HOUR;
  fake.uploads.splice(3, 1);
  const second = await sweep(T0 + HOUR / 2, first.undatedSince);
  expect([...second.undatedSince.keys()]).toEqual([entry("o"), entry("y"), entry("b")]);
  // o and y first seen an hour ago: aborted and forgotten; b is in use: kept, with its date.
  const third = await sweep(T0 + HOUR + 1, second.undatedSince);
  expect(third.abortedUploads).toBe(2);
  expect(fake.aborted).toEqual(["o", "y"]);
  expect(third.undatedSince).toEqual(new Map([[entry("b"), T0]]));
});

test("sweepOrphans(): the jobs whose listing failed are handed on whole by a sweep whose runner listing fails or that is stopped", async () => {
  const fake = fakeStore({ "r/a/1/": [{ key: "r/a/1/k", lastModified: T0 }] });
  fake.failing.add("r/");
  const failedJobs = new Set(["r/x/", "r/y/"]);
  const failedRunner = await sweepOrphans({ store: fake.store, runnerPrefixes: ["r/"], busy: () => false, graceMs: HOUR, now: T0, failedJobs });
  expect(failedRunner.failedJobs).toEqual(failedJobs);
  fake.failing.clear();
  const stop = new AbortController();
  stop.abort();
  const stopped = await sweepOrphans({ store: fake.store, runnerPrefixes: ["r/"], busy: () => false, graceMs: HOUR, now: T0, failedJobs, signal: stop.signal });
  expect(stopped.failedJobs).toEqual(failedJobs);
});

// The same through StorageService and the S3 store over HTTP: the runner listing answers 503
// SlowDown (after the SDK's retries) on every other sweep.
let failRunnerListing = false;
const s3 = undatedOrphanS3((prefix) => prefix === "runs/r/" && failRunnerListing);
afterAll(() => s3.stop());

test("StorageService.sweep(): an undated orphan on S3 is deleted once past the grace though the runner listing answers 503 every other sweep", async () => {
  let now = Date.now();
  const store = s3.store();
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => now });
  const results: string[] = [];
  // Three hours of sweeps every 30 minutes (grace 1 h); each failing sweep costs the SDK's retries (~2 s).
  for (let i = 0; i < 6; i++) {
    failRunnerListing = i % 2 === 1;
    const report = await svc.sweep();
    results.push(`${report.deleted}/${report.pending}/${report.failed}`);
    now += HOUR / 2;
  }
  await svc.close();
  // deleted/pending/failed per sweep (before: 0/1/0 0/0/1 0/1/0 0/0/1 0/1/0 0/0/1, never deleted).
  expect(results).toEqual(["0/1/0", "0/0/1", "1/0/0", "0/0/1", "0/0/0", "0/0/1"]);
  expect(s3.deleted).toEqual(["runs/r/undated/1/k"]);
}, 60_000);
