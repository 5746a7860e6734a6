// One prefix from a job or attempt listing that is not one plain segment below (outside the
// listed prefix, two segments, "..") or not the runner's `<job>/<attempt>/` layout used to stop
// the whole S3 walk: the store's children() threw, and every later job was left unswept, at every
// sweep. Such a prefix is now skipped, counted and logged once; the walk goes on.

import { afterAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import { StorageService } from "../../src/storage/storage-service.ts";
import { contents, prefixes, scriptedS3 } from "../helpers/scripted-s3.ts";

const HOUR = 3_600_000;
/** Common prefixes the fake store answers per listed prefix: malformed ones first. */
const CHILDREN: Record<string, string[]> = {
  "runs/r/": ["runs/r/a/b/", "runs/other/x/", "runs/r/../", "runs/r/bad job/", "runs/r/old/", "runs/r/older/"],
  "runs/r/old/": ["runs/r/old/a/b/", "runs/r/old/x/", "runs/r/old/1/"],
  "runs/r/older/": ["runs/r/older/2/"],
};
const s3 = scriptedS3({
  list: ({ prefix, delimited }) =>
    delimited ? prefixes(...(CHILDREN[prefix] ?? []))
    : prefix === "runs/r/old/1/" || prefix === "runs/r/older/2/" ? contents(`${prefix}k`) : "",
});
afterAll(() => s3.stop());

test("StorageService.sweep() on S3 skips prefixes outside the runner's layout, counts them, logs them once, and still deletes the orphans", async () => {
  const store = s3.store();
  const { logger, records } = memoryLogger();
  const svc = new StorageService({ store, runnerId: "r", limits: { maxObjectBytes: 1024, maxJobBytes: 4096 }, logger, sweepGraceMs: HOUR, sweepIntervalMs: 0, retries: 0 });
  const report = await svc.sweep();
  expect(report).toMatchObject({ deleted: 2, failed: 0, skipped: 6 });
  expect(s3.deleted.sort()).toEqual(["runs/r/old/1/k", "runs/r/older/2/k"]);
  await svc.sweep();
  const warned = records.filter((r) => r.level === "warn" && r.msg.includes("Skipped"));
  expect(warned.length).toBe(1);
  expect(warned[0]).toMatchObject({ skipped: 6 });
  await svc.close();
});
