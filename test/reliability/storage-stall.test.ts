// Job storage against an S3 endpoint that stops answering (a frozen MinIO, a black-holed VPC
// endpoint: connections open, requests never answered). The attempt's cleanup runs before its
// result is reported, and the sweeper's listing at start and on its timer: a request with no
// bound hung them for good, and the job never reported its result. A request with no body to
// move now fails after 30 s (300 ms here); a cleanup that hits it is counted, logged and retried,
// and done once S3 answers.

import { expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { stallingS3 } from "../storage/stalling-s3.ts";

const endpoint = stallingS3();

test("a cleanup and a sweep against a stalled S3 endpoint end (counted, logged, retried) instead of hanging; the objects go once it answers", async () => {
  const store = endpoint.store("stall", 300);
  const { logger, records } = memoryLogger("debug");
  const service = new StorageService({ store, runnerId: "r1", limits: { maxObjectBytes: 1 << 20, maxJobBytes: 1 << 20 }, logger, sweepGraceMs: 0, sweepIntervalMs: 0, retryBaseMs: 200 });
  const storage = service.open({ jobId: "j1", attempt: 1 });
  await storage.put("work/state.json", new TextEncoder().encode("{}"));

  endpoint.relay.stalled = true;
  // Bounded: the first try fails on the idle bound; the result could be reported.
  await service.release(storage);
  expect(service.stats.cleanupFailures).toBeGreaterThanOrEqual(1);
  expect(records.some((r) => r.msg === "Cannot delete a job attempt's objects" && /timed? ?out/i.test(String(r.error)))).toBe(true);
  const sweep = await service.sweep();
  expect(sweep.errors.length).toBeGreaterThan(0);

  endpoint.relay.stalled = false;
  const deadline = Date.now() + 20_000;
  while (service.stats.cleanupsRetrying > 0 && Date.now() < deadline) await Bun.sleep(50);
  const left: string[] = [];
  for await (const info of store.list("r1/")) left.push(info.key);
  expect(left).toEqual([]);
  await service.close();
}, 60_000);

test("a cleanup given up says truly who deletes the objects: a later sweep, or the next start when the runner sweeps only then", async () => {
  for (const [intervalMs, who] of [[60_000, "a later sweep deletes them"], [0, "the sweep at the runner's next start deletes them"]] as const) {
    const { logger, records } = memoryLogger("debug");
    const failing = { kind: "local" as const, location: "(test)", put: async () => 0, get: async () => undefined, head: async () => undefined, list: async function* () {}, children: async function* () {}, delete: async () => {}, close: async () => {}, deletePrefix: async (): Promise<number> => { throw new Error("backend unavailable"); } };
    const service = new StorageService({ store: failing, runnerId: "r2", limits: { maxObjectBytes: 1, maxJobBytes: 1 }, logger, sweepGraceMs: 1000, sweepIntervalMs: intervalMs, retries: 1, retryBaseMs: 1, sleep: async () => {} });
    await service.release(service.open({ jobId: "j", attempt: 1 }));
    for (let i = 0; i < 100 && service.stats.cleanupsRetrying > 0; i++) await Bun.sleep(5);
    expect(records.find((r) => String(r.msg).startsWith("Giving up deleting"))?.msg).toContain(who);
    expect(service.stats.cleanupFailures).toBe(2);
  }
});
