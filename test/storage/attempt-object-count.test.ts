// An attempt's limits are checked from running totals: 100,000 puts do not walk every object
// each time (they used to: O(n) per put and per 1 MiB chunk), and the object count is bounded.

import { expect, test } from "bun:test";
import { StorageService } from "../../src/storage/storage-service.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectInfo, ObjectStore } from "../../src/storage/object-store.ts";

/** A backend that keeps only sizes: the test measures the accounting above it, not a disk. */
function sizesOnly(): ObjectStore {
  const sizes = new Map<string, number>();
  return {
    kind: "local",
    location: "memory",
    async put(key, body) {
      const size = body instanceof Uint8Array ? body.byteLength : 0;
      sizes.set(key, size);
      return size;
    },
    async get() { return undefined; },
    async head(key) { const size = sizes.get(key); return size === undefined ? undefined : { key, size, lastModified: 0 }; },
    async *list(prefix): AsyncIterable<ObjectInfo> { for (const [key, size] of sizes) if (key.startsWith(prefix)) yield { key, size, lastModified: 0 }; },
    async *children(): AsyncIterable<string> {},
    async delete(key) { sizes.delete(key); },
    async deletePrefix(prefix) { let n = 0; for (const key of [...sizes.keys()]) if (key.startsWith(prefix)) { sizes.delete(key); n++; } return n; },
    async close() {},
  };
}

function service(limits: { maxObjectBytes: number; maxJobBytes: number; maxJobObjects?: number }): StorageService {
  return new StorageService({ store: sizesOnly(), runnerId: "r", limits, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
}

test("AttemptStorage.put(): 100,000 zero-byte puts finish in seconds; the 100,001st is refused naming the limit", async () => {
  const svc = service({ maxObjectBytes: 1024, maxJobBytes: 1024 ** 3 });
  const storage = svc.open({ jobId: "many", attempt: 1 });
  const empty = new Uint8Array(0);
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) await storage.put(`k${i}`, empty);
  expect(performance.now() - started).toBeLessThan(10_000);
  await expect(storage.put("one-more", empty)).rejects.toMatchObject({ code: "storage_limit", message: expect.stringContaining("the limit is 100000 (storageMaxJobObjects)") });
  // Replacing an object is not one more; deleting one makes room.
  expect(await storage.put("k5", new Uint8Array(3))).toBe(3);
  expect(await storage.delete("k6")).toBe(true);
  expect(await storage.put("one-more", empty)).toBe(0);
  expect(svc.stats.objectsAlive).toBe(100_000);
  await svc.release(storage);
}, 60_000);

test("AttemptStorage.put(): concurrent puts of new keys count against maxJobObjects before they finish", async () => {
  const svc = service({ maxObjectBytes: 1024, maxJobBytes: 1024 ** 3, maxJobObjects: 3 });
  const storage = svc.open({ jobId: "race", attempt: 1 });
  const results = await Promise.allSettled(["a", "b", "c", "d", "e"].map((key) => storage.put(key, new Uint8Array(1))));
  expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(["storage_limit", "storage_limit"]);
});

test("AttemptStorage.put(): the job's byte total follows replacements and deletions", async () => {
  const svc = service({ maxObjectBytes: 100, maxJobBytes: 100 });
  const storage = svc.open({ jobId: "bytes", attempt: 1 });
  await storage.put("a", new Uint8Array(60));
  await expect(storage.put("b", new Uint8Array(41))).rejects.toMatchObject({ code: "storage_limit" });
  await storage.put("a", new Uint8Array(100)); // replaces: its old 60 bytes do not count
  await storage.put("a", new Uint8Array(10));
  await storage.put("b", new Uint8Array(90));
  await expect(storage.put("c", new Uint8Array(1))).rejects.toMatchObject({ code: "storage_limit" });
  await storage.delete("b");
  expect(await storage.put("c", new Uint8Array(90))).toBe(90);
});
