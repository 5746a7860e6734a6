// An S3 listing may answer an object without a LastModified (a store that omits it). The sweep
// dated such an object at the epoch (0), so its attempt counted as decades old and was deleted at
// the first sweep, whatever storageSweepGraceMs said. An attempt whose objects carry no date is
// now dated by when a sweep of this process first saw it: deleted once that is past the grace.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { scriptedS3 } from "../helpers/scripted-s3.ts";
import { undatedOrphanS3 } from "./undated-orphan-s3.ts";

const HOUR = 3_600_000;
const s3 = undatedOrphanS3();
afterAll(() => s3.stop());

test("StorageService.sweep(): an attempt whose objects carry no date is deleted only once a sweep has seen it for the grace period", async () => {
  let now = Date.now();
  const store = s3.store();
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => now });
  expect(await svc.sweep()).toMatchObject({ deleted: 0, pending: 1, failed: 0 });
  now += HOUR / 2;
  expect(await svc.sweep()).toMatchObject({ deleted: 0, pending: 1 });
  expect(s3.deleted).toEqual([]);
  now += HOUR;
  expect(await svc.sweep()).toMatchObject({ deleted: 1, pending: 0 });
  expect(s3.deleted).toEqual(["runs/r/undated/1/k"]);
  await svc.close();
});

// The same for an unfinished multipart upload listed without an Initiated date: it counted as
// begun at the epoch and was aborted at the first sweep, grace period or not.
const uploads = scriptedS3({
  list: () => "",
  uploads: () => uploads.aborted.length === 0 ? "<Upload><Key>runs/r/j/1/big</Key><UploadId>u-undated</UploadId></Upload>" : "",
});
afterAll(() => uploads.stop());

test("StorageService.sweep(): an unfinished upload listed without an Initiated date is aborted only once a sweep has seen it for the grace period", async () => {
  let now = Date.now();
  const store = uploads.store();
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => now });
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 0, failed: 0 });
  expect(uploads.aborted).toEqual([]); // before: aborted at the first sweep
  now += HOUR / 2;
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 0 });
  now += HOUR;
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 1, failed: 0 });
  expect(uploads.aborted).toEqual(["u-undated"]);
  await svc.close();
});
