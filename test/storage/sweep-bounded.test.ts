// The sweeper walks runner, job and attempt prefixes and lists one attempt at a time: however
// many objects live attempts hold under the runner's prefix (past the S3 listing cap of 10,000
// pages, ~10M keys), an old orphan is still found and deleted, and one attempt that cannot be
// listed does not stop the others. (It used to list the whole runner prefix before deleting
// anything: past the cap every sweep failed and no orphan was ever deleted.)

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import type { ObjectInfo, ObjectStore } from "../../src/storage/object-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { forwardingStore } from "../helpers/forwarding-store.ts";
import { contents, prefixes, scriptedS3, xml } from "../helpers/scripted-s3.ts";

const root = mkdtempSync(join(tmpdir(), "edge-sweep-bounded-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HOUR = 3_600_000;

/** A local store whose listings fail past `cap` keys (the S3 page cap, scaled down), or under `broken`. */
function capped(dir: string, cap: number, broken?: string): { store: ObjectStore; listed: string[] } {
  const local = new LocalObjectStore(join(root, dir));
  const listed: string[] = [];
  const store = forwardingStore(local, {
    async *list(prefix, options): AsyncIterable<ObjectInfo> {
      listed.push(prefix);
      if (broken !== undefined && prefix.startsWith(broken)) throw new EdgeError("storage_failed", `Cannot list "${prefix}": broken`);
      let n = 0;
      for await (const info of local.list(prefix, options)) {
        if (++n > cap) throw new EdgeError("storage_failed", `Cannot list "${prefix}": more than ${cap} keys`);
        yield info;
      }
    },
    leftovers: (prefix) => local.leftovers(prefix),
  });
  return { store, listed };
}

const service = (store: ObjectStore): StorageService =>
  new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger: memoryLogger().logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0, clock: () => Date.now() + 2 * HOUR });

test("StorageService.sweep() deletes an old orphan although the whole runner prefix holds more keys than a listing may", async () => {
  const { store, listed } = capped("cap", 5);
  const svc = service(store);
  // Live attempts holding, together, more objects than one listing may.
  const live = [svc.open({ jobId: "live", attempt: 1 }), svc.open({ jobId: "live", attempt: 2 })];
  for (const attempt of live) for (let i = 0; i < 4; i++) await attempt.put(`k${i}`, new Uint8Array([i]));
  // What a crashed process left: an attempt nobody runs (two hours old by the service's clock).
  await store.put("r/crashed/1/k", new Uint8Array([1]));
  expect(await svc.sweep()).toMatchObject({ deleted: 1, failed: 0 });
  expect(await store.head("r/crashed/1/k")).toBeUndefined();
  // Never the whole runner prefix, never a live attempt.
  expect(listed).toEqual(["r/crashed/1/"]);
  for (const attempt of live) expect((await attempt.list("")).length).toBe(4);
  await svc.close();
});

test("StorageService.sweep(): an attempt that cannot be listed is counted, and the next one is still deleted", async () => {
  const { store } = capped("broken", 100, "r/a/");
  const svc = service(store);
  await store.put("r/a/1/k", new Uint8Array([1]));
  await store.put("r/b/1/k", new Uint8Array([1]));
  const report = await svc.sweep();
  expect(report).toMatchObject({ deleted: 1, failed: 1, errors: [expect.stringContaining("broken")] });
  expect(await store.head("r/b/1/k")).toBeUndefined();
  await svc.close();
});

test("StorageService.sweep() on S3 finds attempts with Delimiter listings, never listing the whole runner prefix", async () => {
  const whole: string[] = [];
  const children: Record<string, string[]> = { "runs/r/": ["runs/r/live/", "runs/r/old/"], "runs/r/live/": ["runs/r/live/1/"], "runs/r/old/": ["runs/r/old/1/"] };
  const s3 = scriptedS3({
    list: ({ prefix, delimited }) => {
      if (delimited) return prefixes(...(children[prefix] ?? []));
      if (prefix === "runs/r/old/1/") return contents("runs/r/old/1/k");
      // Any wider listing stands for one past the page cap: it never completes.
      whole.push(prefix);
      return xml("<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken></ListBucketResult>");
    },
  });
  try {
    const svc = service(s3.store());
    svc.open({ jobId: "live", attempt: 1 });
    expect(await svc.sweep()).toMatchObject({ deleted: 1, failed: 0 });
    expect(s3.deleted).toEqual(["runs/r/old/1/k"]);
    expect(whole).toEqual([]);
    await svc.close();
  } finally {
    await s3.stop();
  }
});
