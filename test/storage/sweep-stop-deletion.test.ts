// Found by a review: the runner's stop ended a sweep's listings, but not a deletion of an orphan
// or the abort of stale uploads already under way (neither took the stop signal), so close()
// waited for a stalled S3 endpoint's deadlines (the request timeout, three tries). Both take the
// signal now: close() returns at once, and what is left is for the next start's sweep.

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { stallingS3 } from "./stalling-s3.ts";

const endpoint = stallingS3();

/** The S3 store through the relay, which stops answering once `stallAt` of the store is called. */
function stallingStore(prefix: string, stallAt: "deletePrefix" | "abortStaleUploads"): { store: ObjectStore; reached: Promise<void> } {
  endpoint.relay.stalled = false;
  const store = endpoint.store(prefix, 1_500);
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const wrapped = new Proxy(store, {
    get(target, property) {
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      if (typeof value !== "function") return value;
      if (property !== stallAt) return value.bind(target);
      return (...args: unknown[]) => {
        endpoint.relay.stalled = true;
        reach();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: wrapped, reached };
}

async function closeTime(service: StorageService): Promise<number> {
  const started = performance.now();
  await service.close();
  return performance.now() - started;
}

test("StorageService.close() stops a sweep's deletion of an orphan in flight on a stalled S3 endpoint", async () => {
  const { store, reached } = stallingStore("stop-delete", "deletePrefix");
  await store.put("r/j/1/orphan", new Uint8Array([1]));
  const service = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const sweeping = service.sweep();
  await reached;
  const ms = await closeTime(service);
  // Before: the DeleteObjects request's deadlines (3 tries of 1.5 s, bounded at 6 s).
  expect(ms).toBeLessThan(1_000);
  expect(await sweeping).toMatchObject({ deleted: 0, failed: 0 });
}, 20_000);

test("StorageService.close() stops a sweep's abort of stale uploads in flight on a stalled S3 endpoint", async () => {
  const { store, reached } = stallingStore("stop-uploads", "abortStaleUploads");
  const service = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const sweeping = service.sweep();
  await reached;
  await Bun.sleep(20); // its ListMultipartUploads request is sent, unanswered
  const ms = await closeTime(service);
  expect(ms).toBeLessThan(1_000);
  expect(await sweeping).toMatchObject({ failed: 0 });
}, 20_000);
