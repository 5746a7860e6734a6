// A runner killed mid-put leaves `<attempt>.d/.<hex>.tmp` (up to an object's size) and no
// object: the sweep must find that attempt by what it left, date it by mtime and delete it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { LocalObjectStore } from "../../src/storage/local-store.ts";
import { StorageService } from "../../src/storage/storage-service.ts";

const LIMITS = { maxObjectBytes: 1024, maxJobBytes: 4096 };

describe("StorageService.start() on the local backend", () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), "edge-leftovers-")); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  function service(): StorageService {
    return new StorageService({ store: new LocalObjectStore(dir), runnerId: "r1", limits: LIMITS, logger: memoryLogger().logger, sweepGraceMs: 60_000, sweepIntervalMs: 0 });
  }

  function old(path: string): void {
    const then = new Date(Date.now() - 3_600_000);
    utimesSync(path, then, then);
  }

  test("deletes an attempt holding only a partial write's temp file once it is older than the grace", async () => {
    const attempt = join(dir, "r1.d", "j.d", "1.d");
    mkdirSync(attempt, { recursive: true });
    writeFileSync(join(attempt, ".0123456789ab.tmp"), new Uint8Array(1000));
    old(join(attempt, ".0123456789ab.tmp"));
    const report = await service().start();
    expect(report).toMatchObject({ deleted: 1, pending: 0, failed: 0 });
    expect(existsSync(attempt)).toBe(false);
  });

  test("a recent temp file, a lone .m file and an empty attempt directory count as their attempt", async () => {
    const fresh = join(dir, "r1.d", "fresh.d", "2.d", "sub.d");
    mkdirSync(fresh, { recursive: true });
    writeFileSync(join(fresh, ".aaaaaaaaaaaa.tmp"), new Uint8Array(10));
    const meta = join(dir, "r1.d", "meta.d", "1.d");
    mkdirSync(meta, { recursive: true });
    writeFileSync(join(meta, "k.m"), "{}");
    old(join(meta, "k.m"));
    const empty = join(dir, "r1.d", "empty.d", "3.d");
    mkdirSync(empty, { recursive: true });
    old(empty);
    const report = await service().sweep();
    expect(report).toMatchObject({ deleted: 2, pending: 1, failed: 0 });
    expect(existsSync(meta)).toBe(false);
    expect(existsSync(empty)).toBe(false);
    expect(existsSync(join(fresh, ".aaaaaaaaaaaa.tmp"))).toBe(true);
  });

  test("a temp file of an attempt this process is using is left alone", async () => {
    const svc = service();
    const live = svc.open({ jobId: "live", attempt: 1 });
    await live.put("a", new Uint8Array([1]));
    const temp = join(dir, "r1.d", "live.d", "1.d", ".bbbbbbbbbbbb.tmp");
    writeFileSync(temp, new Uint8Array(10));
    old(temp);
    await svc.sweep();
    expect(existsSync(temp)).toBe(true);
    await svc.release(live);
    expect(existsSync(join(dir, "r1.d", "live.d"))).toBe(false);
  });
});
