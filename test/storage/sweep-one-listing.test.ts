// The sweeper dates an old attempt by listing it, and deleting it used to list it a second time
// (deletePrefix listed the same prefix again): two listings per orphan, each paged through in
// full. It now hands deletePrefix the keys it listed, up to MAX_KEYS_HELD of them.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectInfo, ObjectStore } from "../../src/storage/object-store.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { MAX_KEYS_HELD } from "../../src/storage/sweep-attempt.ts";
import { sweepOrphans } from "../../src/storage/sweeper.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

const HOUR = 3_600_000;
let server: S3Server;
beforeAll(async () => { server = await startS3rver(); });
afterAll(() => server.stop());

test("StorageService.sweep() on S3 lists an old attempt once: to date it, and deletes what that listing found", async () => {
  const store = createS3Store({ bucket: server.bucket, prefix: "runs", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * 1024 * 1024 });
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => Date.now() + 2 * HOUR });
  const live = svc.open({ jobId: "live", attempt: 1 });
  await live.put("k", new Uint8Array([1]));
  for (const key of ["a", "b/c", "d"]) await store.put(`r/crashed/1/${key}`, new Uint8Array([1]));
  server.listings.length = 0;
  expect(await svc.sweep()).toMatchObject({ deleted: 1, failed: 0 });
  const ofAttempt = server.listings.filter((l) => l.prefix === "runs/r/crashed/1/" && l.delimiter === undefined);
  expect(ofAttempt.length).toBe(1);
  const left: string[] = [];
  for await (const info of store.list("r/")) left.push(info.key);
  expect(left).toEqual([`${live.prefix}k`]);
  await svc.close();
});

test("sweepOrphans() hands deletePrefix the keys it listed, and none past MAX_KEYS_HELD (deletePrefix lists them itself)", async () => {
  const sizes: Record<string, number> = { "r/small/1/": 3, "r/big/1/": MAX_KEYS_HELD + 1 };
  const handed: Record<string, number | undefined> = {};
  const store = {
    kind: "s3", location: "fake",
    async *children(prefix: string) {
      if (prefix === "r/") yield* ["r/small/", "r/big/"];
      else yield `${prefix}1/`;
    },
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      for (let i = 0; i < (sizes[prefix] ?? 0); i++) yield { key: `${prefix}k${i}`, size: 1, lastModified: 1 };
    },
    async deletePrefix(prefix: string, options?: { listed?: readonly string[] }) {
      handed[prefix] = options?.listed?.length;
      return options?.listed?.length ?? 0;
    },
    async close() {},
  } as unknown as ObjectStore;
  const report = await sweepOrphans({ store, runnerPrefixes: ["r/"], busy: () => false, graceMs: HOUR, now: 2 * HOUR });
  expect(report).toMatchObject({ deleted: 2, failed: 0 });
  expect(handed).toEqual({ "r/small/1/": 3, "r/big/1/": undefined });
});

test("deletePrefix() with listed keys refuses one not under the prefix and deletes nothing of it (both backends)", async () => {
  const { localBackend } = await import("./backends.ts");
  const local = await localBackend();
  const s3 = createS3Store({ bucket: server.bucket, prefix: "refuse", region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * 1024 * 1024 });
  for (const store of [local.open(), s3]) {
    await store.put("r/other/1/k", new Uint8Array([1]));
    await expect(store.deletePrefix("r/j/1/", { listed: ["r/other/1/k"] })).rejects.toMatchObject({ code: "storage_failed" });
    expect(await store.head("r/other/1/k")).toBeDefined();
    await store.close();
  }
  await local.stop();
});
