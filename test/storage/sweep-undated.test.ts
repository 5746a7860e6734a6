// An S3 listing may answer an object without a LastModified (a store that omits it). The sweep
// dated such an object at the epoch (0), so its attempt counted as decades old and was deleted at
// the first sweep, whatever storageSweepGraceMs said. An attempt whose objects carry no date is
// now dated by when a sweep of this process first saw it: deleted once that is past the grace.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

const HOUR = 3_600_000;
const deleted: string[] = [];
const xml = (body: string): Response => new Response(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    const url = new URL(request.url);
    if (url.searchParams.has("uploads")) return xml("<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>");
    if (request.method === "POST" && url.searchParams.has("delete")) {
      deleted.push(...[...(await request.text()).matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!));
      return xml("<DeleteResult></DeleteResult>");
    }
    const prefix = url.searchParams.get("prefix") ?? "";
    const common = prefix === "runs/r/" ? "runs/r/undated/" : prefix === "runs/r/undated/" ? "runs/r/undated/1/" : undefined;
    if (url.searchParams.get("delimiter") === "/") return xml(`<ListBucketResult><IsTruncated>false</IsTruncated>${common === undefined ? "" : `<CommonPrefixes><Prefix>${common}</Prefix></CommonPrefixes>`}</ListBucketResult>`);
    const found = prefix === "runs/r/undated/1/" && deleted.length === 0 ? "<Contents><Key>runs/r/undated/1/k</Key><Size>1</Size></Contents>" : "";
    return xml(`<ListBucketResult><IsTruncated>false</IsTruncated>${found}</ListBucketResult>`);
  },
});
afterAll(() => server.stop(true));

test("StorageService.sweep(): an attempt whose objects carry no date is deleted only once a sweep has seen it for the grace period", async () => {
  let now = Date.now();
  const store = createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint: `http://127.0.0.1:${server.port}`, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 });
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => now });
  expect(await svc.sweep()).toMatchObject({ deleted: 0, pending: 1, failed: 0 });
  now += HOUR / 2;
  expect(await svc.sweep()).toMatchObject({ deleted: 0, pending: 1 });
  expect(deleted).toEqual([]);
  now += HOUR;
  expect(await svc.sweep()).toMatchObject({ deleted: 1, pending: 0 });
  expect(deleted).toEqual(["runs/r/undated/1/k"]);
  await svc.close();
});

// The same for an unfinished multipart upload listed without an Initiated date: it counted as
// begun at the epoch and was aborted at the first sweep, grace period or not.
const aborted: string[] = [];
const uploads = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request) {
    const url = new URL(request.url);
    if (request.method === "DELETE" && url.searchParams.has("uploadId")) {
      aborted.push(url.searchParams.get("uploadId") ?? "");
      return new Response(null, { status: 204 });
    }
    if (url.searchParams.has("uploads")) {
      const listed = aborted.length === 0 ? "<Upload><Key>runs/r/j/1/big</Key><UploadId>u-undated</UploadId></Upload>" : "";
      return xml(`<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>false</IsTruncated>${listed}</ListMultipartUploadsResult>`);
    }
    return xml("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  },
});
afterAll(() => uploads.stop(true));

test("StorageService.sweep(): an unfinished upload listed without an Initiated date is aborted only once a sweep has seen it for the grace period", async () => {
  let now = Date.now();
  const store = createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint: `http://127.0.0.1:${uploads.port}`, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 });
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => now });
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 0, failed: 0 });
  expect(aborted).toEqual([]); // before: aborted at the first sweep
  now += HOUR / 2;
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 0 });
  now += HOUR;
  expect(await svc.sweep()).toMatchObject({ abortedUploads: 1, failed: 0 });
  expect(aborted).toEqual(["u-undated"]);
  await svc.close();
});
