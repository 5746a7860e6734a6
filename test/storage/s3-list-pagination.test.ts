// A store whose listing never ends (a repeated continuation token), says "truncated" without a
// token, or answers keys outside the prefix: cleanup and the sweep fail, counted, within bounded
// time, instead of waiting forever (the job's result waits for its cleanup) or deleting early or
// wrongly.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

type Mode = "repeat" | "no-token" | "foreign" | "uploads-repeat";
let mode: Mode = "repeat";
const calls = { list: 0, uploads: 0, deletes: 0 };

const contents = (key: string): string => `<Contents><Key>${key}</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents>`;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request) {
    const url = new URL(request.url);
    if (url.searchParams.has("uploads")) {
      calls.uploads++;
      const truncated = mode === "uploads-repeat";
      return new Response(`<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>${truncated}</IsTruncated>${truncated ? "<NextKeyMarker>k</NextKeyMarker><NextUploadIdMarker>u</NextUploadIdMarker>" : ""}</ListMultipartUploadsResult>`);
    }
    if (url.searchParams.get("list-type") === "2") {
      calls.list++;
      const prefix = url.searchParams.get("prefix") ?? "";
      const body = mode === "repeat" ? `<IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken>${contents(`${prefix}k`)}`
        : mode === "no-token" ? `<IsTruncated>true</IsTruncated>${contents(`${prefix}k`)}`
        : mode === "foreign" ? `<IsTruncated>false</IsTruncated>${contents(`${prefix}k`)}${contents("runs/someone-else/j/1/k")}`
        : "<IsTruncated>false</IsTruncated>";
      return new Response(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>${body}</ListBucketResult>`);
    }
    if (request.method === "POST" && url.searchParams.has("delete")) {
      calls.deletes++;
      return new Response(`<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>`);
    }
    return new Response("", { status: 200, headers: { etag: '"x"' } });
  },
});
afterAll(() => server.stop(true));

function service(): StorageService {
  const store = createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint: `http://127.0.0.1:${server.port}`, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 });
  return new StorageService({ store, runnerId: "r1", limits: { maxObjectBytes: 1024, maxJobBytes: 1024 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 0 });
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | "still waiting"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([promise, new Promise<"still waiting">((resolve) => { timer = setTimeout(() => resolve("still waiting"), ms); })]).finally(() => clearTimeout(timer));
}

test("S3 list: a repeated continuation token fails the listing, release() returns with the failure counted", async () => {
  mode = "repeat";
  calls.deletes = 0;
  const svc = service();
  const storage = svc.open({ jobId: "j", attempt: 1 });
  await expect(storage.list("")).rejects.toMatchObject({ code: "storage_failed", message: expect.stringContaining("repeated a continuation token") });
  expect(await within(svc.release(storage).then(() => "released"), 5_000)).toBe("released");
  expect(svc.stats.cleanupFailures).toBe(1);
  expect(calls.deletes).toBe(0);
  expect(await within(svc.sweep(), 5_000)).toMatchObject({ deleted: 0, errors: [expect.stringContaining("repeated a continuation token")] });
  await svc.close();
});

test("S3 list: truncated without a token is a failed deletion, not an early success", async () => {
  mode = "no-token";
  calls.deletes = 0;
  const svc = service();
  const storage = svc.open({ jobId: "j", attempt: 2 });
  await svc.release(storage);
  expect(svc.stats.cleanupFailures).toBe(1);
  expect(svc.stats.lastError).toContain("gave no continuation token");
  expect(calls.deletes).toBe(0);
  await svc.close();
});

test("S3 list: a key outside the listed prefix is refused, never deleted", async () => {
  mode = "foreign";
  calls.deletes = 0;
  const svc = service();
  const storage = svc.open({ jobId: "j", attempt: 3 });
  await svc.release(storage);
  expect(svc.stats.cleanupFailures).toBe(1);
  expect(svc.stats.lastError).toContain("a key outside it");
  expect(calls.deletes).toBe(0);
  await svc.close();
});

test("S3 sweep: a repeated marker listing unfinished uploads ends the sweep, counted as failed", async () => {
  mode = "uploads-repeat";
  calls.uploads = 0;
  const svc = service();
  const report = await within(svc.sweep(), 5_000);
  expect(report).toMatchObject({ failed: 1, errors: [expect.stringContaining("repeated a marker")] });
  expect(calls.uploads).toBe(2);
  await svc.close();
});
