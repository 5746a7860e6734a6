// Found by a review (probe storage-reopen-race): a deletion of an attempt prefix already under way
// (a cleanup's first try, a retry of it, a sweep's) when the same job attempt was opened again
// deleted the new attempt's objects with the old ones. The new attempt's calls now wait for it.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService, type StorageServiceOptions } from "../../src/storage/storage-service.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const limits = { maxObjectBytes: 1024, maxJobBytes: 4096, maxJobObjects: 100 };

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A local store whose deletePrefix call n fails when fail(n), and first waits for hold(n) (a slow S3 list and delete). */
function storeWith(options: { fail?: (n: number) => boolean; hold?: (n: number) => Promise<void> | undefined; holdPut?: (key: string) => Promise<void> | undefined }): { local: LocalObjectStore; store: ObjectStore } {
  const dir = mkdtempSync(join(tmpdir(), "edge-reopen-deletion-"));
  dirs.push(dir);
  const local = new LocalObjectStore(dir);
  let n = 0;
  const store = new Proxy(local, {
    get(target, property) {
      if (property === "deletePrefix") return async (...args: Parameters<ObjectStore["deletePrefix"]>) => {
        const call = n++;
        if (options.fail?.(call) === true) throw new Error("backend unavailable");
        await options.hold?.(call);
        return local.deletePrefix(...args);
      };
      // A put that does not stop at its attempt's end: end() waits for it.
      if (property === "put") return async (...args: Parameters<ObjectStore["put"]>) => {
        await options.holdPut?.(args[0]);
        return local.put(...args);
      };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as ObjectStore;
  return { local, store };
}

function service(store: ObjectStore, more: Partial<StorageServiceOptions> = {}): StorageService {
  return new StorageService({ store, runnerId: "r", limits, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 1, sleep: async () => {}, ...more });
}

test("StorageService: a retry's deletion under way when the same attempt is opened again does not delete the new attempt's objects", async () => {
  const deletion = gate();
  const started = gate();
  // deletePrefix call 0 (release's first try) fails; call 1 (the retry) is slow: in flight.
  const { local, store } = storeWith({ fail: (n) => n === 0, hold: (n) => (n === 1 ? (started.open(), deletion.wait) : undefined) });
  const svc = service(store);
  const first = svc.open({ jobId: "j", attempt: 1 });
  await first.put("old", new Uint8Array([1]));
  await svc.release(first);
  await started.wait;
  const again = svc.open({ jobId: "j", attempt: 1 });
  const put = again.put("live-output", new Uint8Array([2]));
  await Bun.sleep(20);
  deletion.open();
  expect(await put).toBe(1);
  for (let i = 0; i < 200 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
  expect(svc.stats.cleanupsRetrying).toBe(0);
  expect(await local.head("r/j/1/live-output")).toBeDefined(); // before: deleted by the retry
  expect(await local.head("r/j/1/old")).toBeUndefined();
  await svc.release(again);
  expect(svc.stats.objectsAlive).toBe(0);
  await svc.close();
});

test("StorageService: release()'s first deletion under way when the same attempt is opened again does not delete the new attempt's objects", async () => {
  const deletion = gate();
  const { local, store } = storeWith({ hold: (n) => (n === 0 ? deletion.wait : undefined) });
  const svc = service(store);
  const first = svc.open({ jobId: "j", attempt: 1 });
  await first.put("old", new Uint8Array([1]));
  const releasing = svc.release(first);
  await Bun.sleep(10);
  const again = svc.open({ jobId: "j", attempt: 1 });
  const put = again.put("live-output", new Uint8Array([2]));
  await Bun.sleep(20);
  deletion.open();
  await releasing;
  await put;
  expect(await local.head("r/j/1/live-output")).toBeDefined(); // before: deleted
  expect(svc.stats.objectsAlive).toBe(1);
  await svc.close();
});

test("StorageService: the same attempt opened again while release() waits for the old one's calls to end is not deleted with it", async () => {
  const slow = gate();
  const { local, store } = storeWith({ holdPut: (key) => (key.endsWith("/slow") ? slow.wait : undefined) });
  const svc = service(store);
  const first = svc.open({ jobId: "j", attempt: 1 });
  await first.put("old", new Uint8Array([1]));
  const slowPut = first.put("slow", new Uint8Array([1])).catch(() => undefined);
  const releasing = svc.release(first); // end() waits for the slow put
  await Bun.sleep(10);
  const again = svc.open({ jobId: "j", attempt: 1 });
  await again.put("live-output", new Uint8Array([2]));
  slow.open();
  await releasing;
  await slowPut;
  expect(await local.head("r/j/1/live-output")).toBeDefined(); // before: deleted
  await svc.release(again);
  expect(await local.head("r/j/1/old")).toBeUndefined();
  expect(svc.stats.objectsAlive).toBe(0);
  await svc.close();
});

test("StorageService.sweep(): its deletion of an orphan under way when that attempt is opened again does not delete the new attempt's objects", async () => {
  const deletion = gate();
  const started = gate();
  const { local, store } = storeWith({ hold: () => (started.open(), deletion.wait) });
  await local.put("r/j/1/orphan", new Uint8Array([1]));
  const svc = service(store);
  const sweeping = svc.sweep();
  await started.wait; // past the sweep's last busy check: its deletion is in flight
  const again = svc.open({ jobId: "j", attempt: 1 });
  const put = again.put("live-output", new Uint8Array([2]));
  await Bun.sleep(20);
  deletion.open();
  expect(await sweeping).toMatchObject({ deleted: 1 });
  await put;
  expect(await local.head("r/j/1/live-output")).toBeDefined(); // before: deleted by the sweep
  expect(await local.head("r/j/1/orphan")).toBeUndefined();
  await svc.close();
});

test("AttemptStorage: a call waiting for a deletion under way stops at the attempt's end", async () => {
  const deletion = gate();
  const { store } = storeWith({ hold: (n) => (n === 0 ? deletion.wait : undefined) });
  const svc = service(store);
  const first = svc.open({ jobId: "j", attempt: 1 });
  const releasing = svc.release(first);
  await Bun.sleep(10);
  const again = svc.open({ jobId: "j", attempt: 1 });
  const put = again.put("k", new Uint8Array([1]));
  const ending = again.end();
  await expect(put).rejects.toMatchObject({ code: "storage_closed" });
  await ending;
  deletion.open();
  await releasing;
  await svc.close();
});
