// An attempt whose cleanup gave up is the sweeper's: when the sweep deletes it, its objects stop
// counting in edge_runner_storage_objects_alive (they used to count for the process's life); so do
// they when the same attempt, opened again, is cleaned up.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { forwardingStore } from "../helpers/forwarding-store.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-sweep-gauge-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `local`, but its deletePrefix() fails ("backend unavailable") whenever `failing()` says so. */
function deletesFailingWhile(local: LocalObjectStore, failing: () => boolean): ObjectStore {
  return forwardingStore(local, {
    deletePrefix: async (prefix) => {
      if (failing()) throw new Error("backend unavailable");
      return local.deletePrefix(prefix);
    },
  });
}

test("StorageService.sweep() deleting an abandoned attempt takes its objects off objectsAlive", async () => {
  const local = new LocalObjectStore(dir);
  let down = true;
  const store = deletesFailingWhile(local, () => down);
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 1, sleep: async () => undefined });
  const storage = svc.open({ jobId: "j", attempt: 1 });
  await storage.put("a", new Uint8Array([1]));
  await storage.put("b", new Uint8Array([1]));
  await svc.release(storage);
  for (let i = 0; i < 500 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
  expect(svc.stats.cleanupsRetrying).toBe(0);
  expect(svc.stats.objectsAlive).toBe(2);
  down = false;
  expect(await svc.sweep()).toMatchObject({ deleted: 1 });
  expect(svc.stats.objectsAlive).toBe(0);
  await svc.close();
});

test("StorageService.release() of an attempt opened again after its cleanup gave up takes both off objectsAlive", async () => {
  const local = new LocalObjectStore(join(dir, "reopened"));
  let failures = 1;
  const store = deletesFailingWhile(local, () => failures-- > 0);
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 0 });
  const first = svc.open({ jobId: "j", attempt: 1 });
  await first.put("k", new Uint8Array([1]));
  await svc.release(first);
  for (let i = 0; i < 500 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
  expect(svc.stats.objectsAlive).toBe(1);
  // The same attempt again (re-delivered): its cleanup succeeds and deletes the whole prefix.
  const again = svc.open({ jobId: "j", attempt: 1 });
  await again.put("k", new Uint8Array([1]));
  await svc.release(again);
  expect(svc.stats.objectsAlive).toBe(0);
  await svc.close();
});

test("StorageService: objects of an earlier abandoned cleanup of the same attempt stop counting once the prefix is deleted (it used to be overwritten by a later one)", async () => {
  const local = new LocalObjectStore(join(dir, "twice"));
  let failing = true;
  let gated = false;
  let wake!: () => void;
  const store = deletesFailingWhile(local, () => failing);
  const svc = new StorageService({
    store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 1,
    sleep: async () => { if (gated) await new Promise<void>((resolve) => (wake = resolve)); },
  });
  const first = svc.open({ jobId: "j", attempt: 1 });
  await first.put("one", new Uint8Array([1]));
  await svc.release(first); // fails, its retry fails: given up (abandoned)
  for (let i = 0; i < 500 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
  gated = true;
  const second = svc.open({ jobId: "j", attempt: 1 });
  await second.put("two", new Uint8Array([2]));
  await svc.release(second); // fails; its retry waits
  for (let i = 0; i < 500 && wake === undefined; i++) await Bun.sleep(5);
  const third = svc.open({ jobId: "j", attempt: 1 });
  wake(); // the second's retry hands over to the third: abandoned as well
  for (let i = 0; i < 500 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
  expect(svc.stats.objectsAlive).toBe(2);
  failing = false;
  await svc.release(third); // deletes the prefix: every earlier attempt's objects with it
  const left: string[] = [];
  for await (const info of local.list("r/")) left.push(info.key);
  expect(left).toEqual([]);
  expect(svc.stats.objectsAlive).toBe(0); // before: 1 (the first attempt's, dropped from the map)
  await svc.close();
});
