// A job id may be 1,024 characters of any Unicode: its storage key segment stays short enough
// for a file name (255 bytes) and an S3 key (1,024 bytes), so such a job's storage works and its
// cleanup does not fail.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { keySegment, MAX_SEGMENT_CHARS } from "../../src/storage/storage-keys.ts";
import { collect } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { BACKENDS, type BackendFixture } from "./backends.ts";

describe("keySegment()", () => {
  test("keeps a short id as its URL encoding", () => {
    expect(keySegment("job-1")).toBe("job-1");
    expect(keySegment("../x")).toBe("%2E%2E%2Fx");
    // As every earlier version encoded it: a runner's prefix must not move between versions.
    expect(keySegment("a~b")).toBe("a~b");
    expect(keySegment("a.b")).toBe("a%2Eb");
  });

  test("a long id becomes a readable head, '.' and a fixed-length SHA-256: stable, distinct, short", () => {
    for (const id of ["字".repeat(100), "a".repeat(1024), "%".repeat(67), "~".repeat(300), ".".repeat(300), `${"x".repeat(119)}字${"y".repeat(200)}`]) {
      const segment = keySegment(id);
      expect(segment.length).toBeLessThanOrEqual(MAX_SEGMENT_CHARS);
      // The short form never holds a ".", so "." marks the long form.
      expect(segment).toMatch(/^[A-Za-z0-9%_!*'()~-]*\.[0-9a-f]{64}$/);
      expect(keySegment(id)).toBe(segment);
      expect(() => decodeURIComponent(segment.split(".")[0]!)).not.toThrow();
    }
    // Same head, different tails.
    expect(keySegment(`${"a".repeat(300)}1`)).not.toBe(keySegment(`${"a".repeat(300)}2`));
    // An id of exactly the limit is kept; one more character is hashed.
    expect(keySegment("a".repeat(MAX_SEGMENT_CHARS))).toBe("a".repeat(MAX_SEGMENT_CHARS));
    expect(keySegment("a".repeat(MAX_SEGMENT_CHARS + 1))).toContain(".");
  });
});

for (const [name, start] of BACKENDS) {
  describe(`a 100-character CJK job id on the ${name} backend`, () => {
    let backend: BackendFixture;
    beforeAll(async () => { backend = await start(); });
    afterAll(async () => { await backend.stop(); });

    test("put, get, list and release succeed; no cleanup failure; the sweep finds none left", async () => {
      const svc = new StorageService({ store: backend.open(), runnerId: "r-long", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: 0, sweepIntervalMs: 0, retries: 0 });
      for (const jobId of ["字".repeat(100), "j".repeat(1024)]) {
        const storage = svc.open({ jobId, attempt: 1 });
        expect(await storage.put("plan/out.bin", new Uint8Array([1, 2, 3]))).toBe(3);
        expect([...(await collect((await storage.get("plan/out.bin"))!.body))]).toEqual([1, 2, 3]);
        expect((await storage.list("")).map((i) => i.key)).toEqual(["plan/out.bin"]);
        await svc.release(storage);
      }
      expect(svc.stats.cleanupFailures).toBe(0);
      expect(await svc.sweep()).toMatchObject({ deleted: 0, failed: 0, pending: 0 });
      await svc.close();
    });
  });
}
