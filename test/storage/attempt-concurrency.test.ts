// One attempt has at most MAX_CONCURRENT_CALLS one-shot calls at the store at once; the rest
// wait their turn, and give up with storage_closed when the attempt ends.

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { MAX_CONCURRENT_CALLS } from "../../src/storage/attempt-storage.ts";
import type { ObjectInfo, ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

/** Answers head and get only once let go, counting how many are at the store at once. */
function gatedStore(): { store: ObjectStore; letGo(): void; atStore(): number; most(): number } {
  let now = 0;
  let most = 0;
  let open: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => { open = resolve; });
  const held = async <T>(value: T): Promise<T> => {
    now++;
    most = Math.max(most, now);
    try {
      await gate;
      return value;
    } finally {
      now--;
    }
  };
  const store: ObjectStore = {
    kind: "local",
    location: "memory",
    put: (_key, body) => held(body instanceof Uint8Array ? body.byteLength : 0),
    get: () => held(undefined),
    head: (key) => held({ key, size: 1, lastModified: 0 }),
    async *list(): AsyncIterable<ObjectInfo> { await held(undefined); },
    async *children(): AsyncIterable<string> {},
    delete: () => held(undefined),
    deletePrefix: async () => 0,
    close: async () => undefined,
  };
  return { store, letGo: () => { open(); gate = Promise.resolve(); }, atStore: () => now, most: () => most };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await Bun.sleep(2);
  expect(condition()).toBe(true);
}

function service(store: ObjectStore): StorageService {
  return new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 1024 ** 2 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
}

test("AttemptStorage: 40 concurrent one-shot calls reach the store at most MAX_CONCURRENT_CALLS at a time, and all answer", async () => {
  const gated = gatedStore();
  const storage = service(gated.store).open({ jobId: "busy", attempt: 1 });
  const calls = Array.from({ length: 40 }, (_, i) => [
    () => storage.head(`k${i}`),
    () => storage.get(`k${i}`),
    () => storage.put(`k${i}`, new Uint8Array(1)),
    () => storage.list(`k${i}`),
    () => storage.delete(`k${i}`),
  ][i % 5]!());
  await until(() => gated.atStore() === MAX_CONCURRENT_CALLS);
  gated.letGo();
  const results = await Promise.allSettled(calls);
  expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  expect(gated.most()).toBe(MAX_CONCURRENT_CALLS);
});

test("AttemptStorage: calls waiting for a turn are refused with storage_closed when the attempt ends", async () => {
  const gated = gatedStore();
  const svc = service(gated.store);
  const storage = svc.open({ jobId: "ending", attempt: 1 });
  const calls = Array.from({ length: 12 }, (_, i) => storage.head(`k${i}`).then(() => "answered", (e: { code?: string }) => e.code ?? "error"));
  await until(() => gated.atStore() === MAX_CONCURRENT_CALLS);
  const released = svc.release(storage);
  gated.letGo();
  await released;
  const results = await Promise.all(calls);
  expect(results.filter((r) => r === "storage_closed").length).toBe(12 - MAX_CONCURRENT_CALLS);
  expect(results.filter((r) => r === "answered").length).toBe(MAX_CONCURRENT_CALLS);
});
