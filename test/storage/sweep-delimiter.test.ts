// The sweeper walks runner, job and attempt prefixes with Delimiter listings. A store that does
// not answer them as S3 does made the sweep find nothing, silently: s3rver itself reports no
// common prefix for a prefix that holds only nested keys (every key of the runner's layout is
// nested), and some S3-compatible stores ignore Delimiter and answer every key instead. The
// children are now read off the keys in both cases.

import { afterEach, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { S3RVER_CREDENTIALS, startS3rver, type DelimiterListing, type S3Server } from "./s3rver.ts";

const HOUR = 3_600_000;
let server: S3Server | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function sweepWith(listing: DelimiterListing): Promise<void> {
  server = await startS3rver("edge-runner-test", listing);
  const store = createS3Store({ bucket: server.bucket, prefix: "runs", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * 1024 * 1024 });
  // Two hours on, by the service's clock: every object is past the grace period.
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => Date.now() + 2 * HOUR });
  const live = svc.open({ jobId: "live", attempt: 1 });
  await live.put("plan/tfplan", new Uint8Array([1]));
  // What crashed processes left: one attempt holding only nested keys, one with a key directly in it.
  await store.put("r/crashed/1/plan/tfplan", new Uint8Array([1]));
  await store.put("r/crashed/1/out/log/1", new Uint8Array([1]));
  await store.put("r/other/2/k", new Uint8Array([1]));
  expect(await svc.sweep()).toMatchObject({ deleted: 2, failed: 0 });
  const left: string[] = [];
  for await (const info of store.list("r/")) left.push(info.key);
  expect(left).toEqual([live.prefix + "plan/tfplan"]);
  await svc.close();
}

test("StorageService.sweep() on a store that answers Delimiter listings as S3 does deletes nested orphans", () => sweepWith("as-s3"));

test("StorageService.sweep() on s3rver's own Delimiter listing (no common prefix for nested keys) still finds and deletes the orphans", () => sweepWith("s3rver"));

test("StorageService.sweep() on a store that ignores Delimiter (every key, no common prefixes) still finds and deletes the orphans", () => sweepWith("ignored"));
