// Found by a review of the sweeper's level-by-level walk: a sweep the runner's stop could not end
// (each job of a stalled store costing its deadlines, and close() waiting for all of them), and a
// background cleanup retry deleting the objects of the same attempt opened again meanwhile.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { MAX_FAILED_LISTINGS_IN_A_ROW } from "../../src/storage/sweeper.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const limits = { maxObjectBytes: 1024, maxJobBytes: 4096, maxJobObjects: 100 } as never;

/** A store whose runner listing names 20 jobs and whose every other call stalls `ms`, then fails (or stops at the signal). */
function stalledStore(ms = 200): { store: ObjectStore; calls: () => number } {
  let calls = 0;
  const stall = async (signal?: AbortSignal) => {
    calls++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
    throw new Error(signal?.aborted === true ? "aborted" : "the store did not answer in time");
  };
  const store = {
    kind: "s3", location: "fake",
    async *list(_prefix: string, options?: { signal?: AbortSignal }) { await stall(options?.signal); },
    async *children(prefix: string, options?: { signal?: AbortSignal }) {
      if (prefix === "r/") {
        calls++;
        for (let i = 0; i < 20; i++) yield `r/job${i}/`;
        return;
      }
      await stall(options?.signal);
    },
    async deletePrefix() { return 0; },
    async close() {},
  } as unknown as ObjectStore;
  return { store, calls: () => calls };
}

test("a sweep of a stalled store gives up after a few failed listings in a row, and the runner's stop ends it at once: close() does not wait job by job", async () => {
  const { store, calls } = stalledStore();
  const service = new StorageService({ store, runnerId: "r", limits, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const report = await service.sweep();
  // Before: every one of the 20 jobs was listed (and failed) in turn.
  expect(report.failed).toBe(MAX_FAILED_LISTINGS_IN_A_ROW);
  expect(calls()).toBe(1 + MAX_FAILED_LISTINGS_IN_A_ROW);
  const second = stalledStore(5_000);
  const stopped = new StorageService({ store: second.store, runnerId: "r", limits, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const sweeping = stopped.sweep();
  await Bun.sleep(50);
  const started = performance.now();
  await stopped.close();
  // Not the 5 s stall of the listing in flight (before: that, then the next jobs' too).
  expect(performance.now() - started).toBeLessThan(2_000);
  expect((await sweeping).failed).toBe(0);
});

test("a cleanup retry does not delete the objects of the same attempt opened again meanwhile; that attempt's own cleanup deletes both", async () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-runner-reopen-"));
  dirs.push(dir);
  const local = new LocalObjectStore(dir);
  let failures = 1;
  let wake!: () => void;
  const gate = new Promise<void>((resolve) => (wake = resolve));
  const store = new Proxy(local, {
    get(target, property) {
      if (property === "deletePrefix") return async (prefix: string) => { if (failures-- > 0) throw new Error("backend unavailable"); return local.deletePrefix(prefix); };
      const value = (target as unknown as Record<string | symbol, unknown>)[property];
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as ObjectStore;
  const service = new StorageService({ store, runnerId: "r", limits, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 1, sleep: async () => { await gate; } });
  const first = service.open({ jobId: "j", attempt: 1 });
  await first.put("old", new Uint8Array([1]));
  await service.release(first); // its deletion fails; the retry waits at the gate
  const again = service.open({ jobId: "j", attempt: 1 });
  await again.put("live-output", new Uint8Array([2]));
  wake();
  await Bun.sleep(50);
  expect(await local.head("r/j/1/live-output")).toBeDefined();
  await service.release(again);
  expect(await local.head("r/j/1/live-output")).toBeUndefined();
  expect(await local.head("r/j/1/old")).toBeUndefined();
  expect(service.stats.objectsAlive).toBe(0);
  await service.close();
});
