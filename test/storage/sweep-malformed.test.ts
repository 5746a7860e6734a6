// One prefix from a job or attempt listing that is not one plain segment below (outside the
// listed prefix, two segments, "..") or not the runner's `<job>/<attempt>/` layout used to stop
// the whole S3 walk: the store's children() threw, and every later job was left unswept, at every
// sweep. Such a prefix is now skipped, counted and logged once; the walk goes on.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

const HOUR = 3_600_000;
const deleted: string[] = [];
const xml = (body: string): Response => new Response(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
const prefixes = (...names: string[]): string => names.map((p) => `<CommonPrefixes><Prefix>${p}</Prefix></CommonPrefixes>`).join("");
const contents = (key: string): string => `<Contents><Key>${key}</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents>`;
/** Common prefixes the fake store answers per listed prefix: malformed ones first. */
const CHILDREN: Record<string, string[]> = {
  "runs/r/": ["runs/r/a/b/", "runs/other/x/", "runs/r/../", "runs/r/bad job/", "runs/r/old/", "runs/r/older/"],
  "runs/r/old/": ["runs/r/old/a/b/", "runs/r/old/x/", "runs/r/old/1/"],
  "runs/r/older/": ["runs/r/older/2/"],
};
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
    if (url.searchParams.get("delimiter") === "/") return xml(`<ListBucketResult><IsTruncated>false</IsTruncated>${prefixes(...(CHILDREN[prefix] ?? []))}</ListBucketResult>`);
    const found = prefix === "runs/r/old/1/" || prefix === "runs/r/older/2/" ? contents(`${prefix}k`) : "";
    return xml(`<ListBucketResult><IsTruncated>false</IsTruncated>${found}</ListBucketResult>`);
  },
});
afterAll(() => server.stop(true));

test("StorageService.sweep() on S3 skips prefixes outside the runner's layout, counts them, logs them once, and still deletes the orphans", async () => {
  const store = createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint: `http://127.0.0.1:${server.port}`, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 });
  const { logger, records } = memoryLogger();
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0 });
  const report = await svc.sweep();
  expect(report).toMatchObject({ deleted: 2, failed: 0, skipped: 6 });
  expect(deleted.sort()).toEqual(["runs/r/old/1/k", "runs/r/older/2/k"]);
  await svc.sweep();
  const warned = records.filter((r) => r.level === "warn" && r.msg.includes("Skipped"));
  expect(warned.length).toBe(1);
  expect(warned[0]).toMatchObject({ skipped: 6 });
  await svc.close();
});
