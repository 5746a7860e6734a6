// A store's error message is the store's to choose: a 2 MiB <Message> must not become a 2 MiB
// error, status-page lastError and warn line (on every retry).

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

const huge = "access denied because ".repeat(100_000); // about 2 MiB, words
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(request) {
    const url = new URL(request.url);
    if (url.searchParams.get("list-type") === "2") {
      return new Response(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>runs/r1/j/1/k</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents></ListBucketResult>`);
    }
    return new Response(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${huge}</Message></Error>`, { status: 403, headers: { "content-type": "application/xml" } });
  },
});
afterAll(() => server.stop(true));

test("S3 store: an error's message from the store is cut to about 500 characters in the error, lastError and the log", async () => {
  const store = createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint: `http://127.0.0.1:${server.port}`, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 });
  const { logger, records } = memoryLogger();
  const svc = new StorageService({ store, runnerId: "r1", limits: { maxObjectBytes: 1024, maxJobBytes: 1024 }, logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 0 });
  const storage = svc.open({ jobId: "j", attempt: 1 });
  const error = await storage.put("k", new Uint8Array(1)).then(() => undefined, (e: Error & { code?: string }) => e);
  expect(error?.code).toBe("storage_failed");
  expect(error!.message).toContain("AccessDenied (HTTP 403): access denied because");
  expect(error!.message.length).toBeLessThan(800);
  await svc.release(storage);
  expect(svc.stats.cleanupFailures).toBe(1);
  expect(svc.stats.lastError!.length).toBeLessThan(800);
  expect(Math.max(...records.map((r) => JSON.stringify(r).length))).toBeLessThan(2000);
  await svc.close();
});
