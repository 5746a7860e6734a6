// One suite, two backends: the local directory and a real S3-protocol server (s3rver on
// 127.0.0.1, port 0). Round trips by bytes and stream, a 50 MiB object byte-identical, multipart
// with small parts, listing, missing keys, limits, isolation of two runners sharing a bucket,
// cleanup with retries, and the sweep of a crashed process's orphans.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { collect, type ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { BACKENDS, MIB, pattern, patternStream, sameBytes, type BackendFixture } from "./backends.ts";

const LIMITS = { maxObjectBytes: 64 * MIB, maxJobBytes: 96 * MIB };

function service(store: ObjectStore, runnerId: string, overrides: Partial<ConstructorParameters<typeof StorageService>[0]> = {}): StorageService {
  return new StorageService({ store, runnerId, limits: LIMITS, logger: memoryLogger().logger, sweepGraceMs: 60_000, sweepIntervalMs: 0, ...overrides });
}

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out.sort();
}

for (const [name, start] of BACKENDS) {
  describe(`job storage on the ${name} backend`, () => {
    let backend: BackendFixture;
    beforeAll(async () => { backend = await start(); });
    afterAll(async () => { await backend.stop(); });

    test("round trips bytes, a string-encoded value, content type and metadata", async () => {
      const storage = service(backend.open(), "r-bytes").open({ jobId: "j1", attempt: 1 });
      expect(await storage.put("a.txt", new TextEncoder().encode("hello"), { contentType: "text/plain", metadata: { step: "plan" } })).toBe(5);
      const got = await storage.get("a.txt");
      expect(got?.info).toMatchObject({ key: "a.txt", size: 5, contentType: "text/plain", metadata: { step: "plan" } });
      expect(new TextDecoder().decode(await collect(got!.body))).toBe("hello");
      expect(await storage.head("a.txt")).toMatchObject({ size: 5, contentType: "text/plain" });
      // Overwrite replaces the bytes.
      await storage.put("a.txt", new Uint8Array([1, 2, 3]));
      expect([...(await collect((await storage.get("a.txt"))!.body))]).toEqual([1, 2, 3]);
    });

    test("a 50 MiB stream comes back byte-identical", async () => {
      const svc = service(backend.open({ partSizeBytes: 8 * MIB }), "r-big");
      const storage = svc.open({ jobId: "big", attempt: 1 });
      const size = 50 * MIB;
      expect(await storage.put("plan/big.bin", patternStream(size, 300_007))).toBe(size);
      const got = await storage.get("plan/big.bin");
      expect(got?.info.size).toBe(size);
      expect(sameBytes(await collect(got!.body), pattern(size))).toBe(true);
      expect(svc.stats.bytesWritten).toBe(size);
      expect(svc.stats.bytesRead).toBe(size);
      await svc.release(storage);
      // About 4.5 s through s3rver on a loaded 2-core machine: bun's 5 s default timed it out.
    }, 30_000);

    test("an object larger than the part size round trips (multipart on S3)", async () => {
      const storage = service(backend.open({ partSizeBytes: 5 * MIB }), "r-parts").open({ jobId: "parts", attempt: 2 });
      const size = 12 * MIB + 17;
      await storage.put("p", patternStream(size, 1_000_003, 3));
      await storage.put("q", pattern(size, 5));
      expect(sameBytes(await collect((await storage.get("p"))!.body), pattern(size, 3))).toBe(true);
      expect(sameBytes(await collect((await storage.get("q"))!.body), pattern(size, 5))).toBe(true);
    });

    test("lists by prefix, sorted; missing keys are undefined or false", async () => {
      const storage = service(backend.open(), "r-list").open({ jobId: "list", attempt: 1 });
      for (const key of ["b/2", "a", "b/1", "a/x", "c"]) await storage.put(key, new Uint8Array([1]));
      expect((await storage.list("")).map((i) => i.key)).toEqual(["a", "a/x", "b/1", "b/2", "c"]);
      expect((await storage.list("b/")).map((i) => i.key)).toEqual(["b/1", "b/2"]);
      expect((await storage.list("a")).map((i) => i.key)).toEqual(["a", "a/x"]);
      expect(await storage.list("zzz")).toEqual([]);
      expect(await storage.get("missing")).toBeUndefined();
      expect(await storage.head("missing")).toBeUndefined();
      expect(await storage.delete("missing")).toBe(false);
      expect(await storage.delete("c")).toBe(true);
      expect((await storage.list("c")).length).toBe(0);
    });

    test("refuses an object or a job past its size limit, while the stream flows", async () => {
      const svc = service(backend.open(), "r-limit", { limits: { maxObjectBytes: 2 * MIB, maxJobBytes: 3 * MIB } });
      const storage = svc.open({ jobId: "limit", attempt: 1 });
      await expect(storage.put("big", patternStream(2 * MIB + 1))).rejects.toMatchObject({ code: "storage_limit", message: expect.stringContaining("per object") });
      await expect(storage.put("big", pattern(2 * MIB + 1))).rejects.toMatchObject({ code: "storage_limit" });
      expect(await storage.head("big")).toBeUndefined();
      await storage.put("one", patternStream(2 * MIB));
      await expect(storage.put("two", patternStream(2 * MIB))).rejects.toMatchObject({ code: "storage_limit", message: expect.stringContaining("job's objects") });
      // Replacing an object does not count its old size twice.
      await storage.put("one", patternStream(2 * MIB));
      expect((await storage.list("")).map((i) => i.key)).toEqual(["one"]);
      await svc.release(storage);
    });

    test("an ended attempt refuses calls and its objects are gone", async () => {
      const svc = service(backend.open(), "r-end");
      const storage = svc.open({ jobId: "end", attempt: 1 });
      await storage.put("x/y", new Uint8Array([1]));
      expect(svc.stats.objectsAlive).toBe(1);
      await svc.release(storage);
      expect(await keysUnder(svc.store, "r-end/")).toEqual([]);
      expect(svc.stats.objectsAlive).toBe(0);
      await expect(storage.get("x/y")).rejects.toMatchObject({ code: "storage_closed" });
      await expect(storage.put("z", new Uint8Array([1]))).rejects.toMatchObject({ code: "storage_closed" });
    });

    test("ending an attempt aborts its upload in flight; nothing is left", async () => {
      const svc = service(backend.open({ partSizeBytes: 5 * MIB }), "r-abort");
      const storage = svc.open({ jobId: "abort", attempt: 1 });
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 1;
          controller.enqueue(pattern(256 * 1024));
        },
      }, { highWaterMark: 0 });
      const upload = storage.put("endless", endless);
      while (sent < 30) await Bun.sleep(5);
      await svc.release(storage);
      await expect(upload).rejects.toMatchObject({ code: "storage_closed" });
      expect(await keysUnder(svc.store, "r-abort/")).toEqual([]);
    });

    test("two runners sharing the store: each one's cleanup and sweep leave the other's objects alone", async () => {
      const a = service(backend.open(), "runner-a", { sweepGraceMs: 0 });
      const b = service(backend.open(), "runner-b", { sweepGraceMs: 0 });
      const sa = a.open({ jobId: "same-job", attempt: 1 });
      const sb = b.open({ jobId: "same-job", attempt: 1 });
      await sa.put("k", new Uint8Array([1]));
      await sb.put("k", new Uint8Array([2]));
      expect([...(await collect((await sb.get("k"))!.body))]).toEqual([2]);
      // A's sweep with no grace: B's attempt is not A's, so it is never listed, let alone deleted.
      expect((await a.sweep()).deleted).toBe(0);
      await a.release(sa);
      expect(await keysUnder(b.store, "runner-b/")).toEqual(["runner-b/same-job/1/k"]);
      expect([...(await collect((await sb.get("k"))!.body))]).toEqual([2]);
      await b.release(sb);
    });

    test("the sweep deletes a crashed process's attempts after the grace period, and keeps live ones", async () => {
      let now = Date.now();
      // The "crashed" process wrote two attempts and never released them.
      const crashed = service(backend.open(), "runner-c");
      await crashed.open({ jobId: "orphan-1", attempt: 1 }).put("a", new Uint8Array([1]));
      await crashed.open({ jobId: "orphan-2", attempt: 3 }).put("b/c", new Uint8Array([1]));
      const other = service(backend.open(), "runner-d");
      await other.open({ jobId: "theirs", attempt: 1 }).put("a", new Uint8Array([1]));
      // The restarted process: one attempt of its own is running.
      const restarted = service(backend.open(), "runner-c", { sweepGraceMs: 60_000, clock: () => now });
      const live = restarted.open({ jobId: "running", attempt: 1 });
      await live.put("a", new Uint8Array([1]));
      const early = await restarted.start();
      expect(early).toMatchObject({ deleted: 0, pending: 2 });
      expect(restarted.stats.pendingSweeps).toBe(2);
      now += 61_000;
      const late = await restarted.sweep();
      expect(late).toMatchObject({ deleted: 2, pending: 0 });
      expect(restarted.stats.sweptAttempts).toBe(2);
      expect(await keysUnder(restarted.store, "runner-c/")).toEqual(["runner-c/running/1/a"]);
      expect(await keysUnder(other.store, "runner-d/")).toEqual(["runner-d/theirs/1/a"]);
      await restarted.close();
      expect(await keysUnder(other.store, "runner-c/")).toEqual([]);
    });

    test("a failed deletion is retried with backoff, counted and logged, never ignored", async () => {
      const store = backend.open();
      let failures = 2;
      const flaky: ObjectStore = {
        kind: store.kind,
        location: store.location,
        put: (key, body, options) => store.put(key, body, options),
        get: (key, signal) => store.get(key, signal),
        head: (key) => store.head(key),
        list: (prefix) => store.list(prefix),
        children: (prefix, options) => store.children(prefix, options),
        delete: (key) => store.delete(key),
        close: () => store.close(),
        deletePrefix: async (prefix: string) => {
          if (failures-- > 0) throw new Error("backend unavailable");
          return store.deletePrefix(prefix);
        },
      };
      const { logger, records } = memoryLogger();
      const waits: number[] = [];
      const svc = new StorageService({ store: flaky, runnerId: "r-retry", limits: LIMITS, logger, sweepGraceMs: 60_000, sweepIntervalMs: 0, retryBaseMs: 100, sleep: async (ms) => { waits.push(ms); } });
      const storage = svc.open({ jobId: "retry", attempt: 1 });
      await storage.put("k", new Uint8Array([1]));
      await svc.release(storage);
      for (let i = 0; i < 500 && svc.stats.cleanupsRetrying > 0; i++) await Bun.sleep(10);
      expect(await keysUnder(store, "r-retry/")).toEqual([]);
      expect(svc.stats.cleanupFailures).toBe(2);
      expect(svc.stats.cleanupsRetrying).toBe(0);
      expect(waits).toEqual([100, 200]);
      expect(records.filter((r) => r.msg === "Cannot delete a job attempt's objects").length).toBe(2);
    });
  });
}
