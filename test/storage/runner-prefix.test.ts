// A runner's prefix is where its sweeper looks, so it must not move between versions: a runner id
// with "~" keeps the encoding earlier versions gave it, and a long runner id (hashed now, used
// whole before) is swept under both its prefixes, so what a crash of an earlier version left is
// still deleted.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import { collect, type ObjectStore } from "../../src/storage/object-store.ts";
import { runnerPrefix, unhashedRunnerPrefix } from "../../src/storage/storage-keys.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { BACKENDS, type BackendFixture } from "./backends.ts";

const root = mkdtempSync(join(tmpdir(), "edge-runner-prefix-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const service = (store: ObjectStore, runnerId: string, clock?: () => number): StorageService =>
  new StorageService({ store, runnerId, limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 60_000, sweepIntervalMs: 0, retries: 0, ...(clock === undefined ? {} : { clock }) });

/** An attempt directory as an earlier version wrote it on the local backend, an hour old. */
function oldAttempt(dir: string, runnerSegment: string, jobSegment: string): string {
  const attempt = join(dir, `${runnerSegment}.d`, `${jobSegment}.d`, "1.d");
  mkdirSync(attempt, { recursive: true });
  writeFileSync(join(attempt, "k.o"), "x");
  const then = new Date(Date.now() - 3_600_000);
  utimesSync(join(attempt, "k.o"), then, then);
  return attempt;
}

test("StorageService.start() sweeps what an earlier version left under a runner id with '~'", async () => {
  const dir = join(root, "tilde");
  const left = oldAttempt(dir, "r~1", "j~1");
  const svc = service(new LocalObjectStore(dir), "r~1");
  expect(await svc.start()).toMatchObject({ deleted: 1, failed: 0 });
  expect(existsSync(left)).toBe(false);
  await svc.close();
});

test("unhashedRunnerPrefix() is the whole encoding of a long runner id, and nothing for a short one", () => {
  expect(unhashedRunnerPrefix("r~1")).toBeUndefined();
  expect(unhashedRunnerPrefix("r".repeat(200))).toBeUndefined();
  expect(unhashedRunnerPrefix("r.".repeat(150))).toBe(`${"r%2E".repeat(150)}/`);
  expect(runnerPrefix("r".repeat(201))).not.toBe(unhashedRunnerPrefix("r".repeat(201)));
});

test("StorageService.sweep() on the local backend: a runner id too long to have had a directory sweeps without failing", async () => {
  const svc = service(new LocalObjectStore(join(root, "too-long")), "r".repeat(300));
  expect(await svc.sweep()).toMatchObject({ deleted: 0, failed: 0 });
  await svc.close();
});

for (const [name, start] of BACKENDS) {
  describe(`a long runner id on the ${name} backend`, () => {
    let backend: BackendFixture;
    beforeAll(async () => { backend = await start(); });
    afterAll(async () => { await backend.stop(); });

    // 240 characters: over the hashing limit, short enough for a local directory name (255 bytes).
    const runnerId = "r".repeat(240);

    test("put, get and release round-trip under the hashed prefix", async () => {
      const svc = service(backend.open(), runnerId);
      const storage = svc.open({ jobId: "j", attempt: 1 });
      expect(storage.prefix.startsWith(runnerPrefix(runnerId))).toBe(true);
      expect(await storage.put("k", new Uint8Array([1, 2]))).toBe(2);
      expect([...(await collect((await storage.get("k"))!.body))]).toEqual([1, 2]);
      await svc.release(storage);
      expect(svc.stats.cleanupFailures).toBe(0);
      expect(await keysUnder(backend.open(), runnerPrefix(runnerId))).toEqual([]);
      await svc.close();
    });

    test("StorageService.sweep() deletes what an earlier version left under the whole (unhashed) id", async () => {
      const store = backend.open();
      const old = unhashedRunnerPrefix(runnerId)!;
      await store.put(`${old}j/1/k`, new Uint8Array([1]));
      // An hour on: the object is past the grace period.
      const svc = service(backend.open(), runnerId, () => Date.now() + 3_600_000);
      expect(await svc.sweep()).toMatchObject({ deleted: 1, failed: 0 });
      expect(await keysUnder(store, old)).toEqual([]);
      await svc.close();
      await store.close();
    });
  });
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}
