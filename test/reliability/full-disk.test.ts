// Issue 9 item 2: one behaviour for "the store cannot be written", at every write site of the
// controller, on a real full file system (a small tmpfs): changes refused with 507, reads and
// health (`failed`, with the reason) still served, no temp file left, nothing acknowledged that
// is not on disk, and a probe that notices when space is back. No crash at any site.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeRunner, makeController, type Harness } from "../reference-controller/helpers.ts";
import { realTimers } from "../../src/util/time.ts";
import { Tmpfs, tmpfsUnavailable } from "../helpers/tmpfs.ts";

const skip = tmpfsUnavailable();
let h: Harness | undefined;
let disk: Tmpfs | undefined;
afterEach(async () => {
  await h?.controller.close().catch(() => {});
  h = undefined;
  disk?.unmount();
  disk = undefined;
});

const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

function onDisk(extra: Parameters<typeof makeController>[0] = {}): Harness {
  disk = Tmpfs.mount(4 * 1024 * 1024);
  return makeController(extra, path.join(disk.dir, "data"));
}

async function request(pathname: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await h!.controller.app.request(pathname, { headers: ADMIN, ...init });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

test.skipIf(skip !== undefined)("journal append on a full disk: 507, reads and health still served, nothing acknowledged", async () => {
  h = onDisk();
  const first = await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo" }) });
  expect(first.status).toBe(201);
  disk!.fill();
  // Larger than a page: a small line could still fit in the journal's last, partly used page.
  const refused = await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", input: { blob: "n".repeat(10_000) } }) });
  expect(refused.status).toBe(507);
  expect(refused.body.error).toMatchObject({ code: "store_full", message: expect.stringContaining("disk is full") });
  // Every later change is refused the same way; reads are served.
  expect((await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo" }) })).status).toBe(507);
  const list = await request("/api/v1/jobs");
  expect(list.status).toBe(200);
  expect((await request(`/api/v1/jobs/${first.body.id as string}`)).status).toBe(200);
  const health = await request("/api/v1/health");
  expect(health.status).toBe(503);
  expect(health.body).toMatchObject({ status: "failed", reason: expect.stringContaining("ENOSPC") });
  // Runners are told to come back later, not refused for good.
  const session = await h.controller.app.request("/edge/v1/sessions", { method: "POST", headers: { authorization: "Bearer x" }, body: "{}" });
  expect([401, 503]).toContain(session.status);
  expect(disk!.tempFiles()).toEqual([]);
  // A restart replays exactly what was acknowledged (the refused job may or may not be there).
  disk!.free();
  h = await h.reopen();
  expect(h.controller.getJob(first.body.id as string)?.status).toBe("queued");
});

test.skipIf(skip !== undefined)("event append on a full disk: no ack leaves, the session closes, the runner resends later", () => {
  h = onDisk();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  disk!.fill();
  r.send({ type: "log", jobId: job.id, attempt: 1, seq: 1, lines: [{ ts: 1, level: "info", msg: "x".repeat(8192) }] });
  expect(r.of("ack")).toHaveLength(0);
  expect(r.closedWith).toBe(1011);
  expect(h.controller.health).toMatchObject({ state: "failed", reason: expect.stringContaining("disk is full") });
});

test.skipIf(skip !== undefined)("compaction on a full disk: the snapshot fails, its temp file is removed, the process and journal carry on", async () => {
  h = onDisk({ compactAfter: 6 });
  for (let i = 0; i < 5; i++) h.controller.submitJob({ plugin: "echo", input: { blob: "y".repeat(150 * 1024) } });
  // Room for a journal line, not for a snapshot of ~750 KiB.
  disk!.fill(256 * 1024);
  const job = h.controller.submitJob({ plugin: "echo" });
  expect(h.controller.core.store.compaction).toMatchObject({ failures: 1, lastError: expect.stringContaining("ENOSPC") });
  expect(disk!.tempFiles()).toEqual([]);
  expect(h.controller.health.state).toBe("ready");
  const health = await request("/api/v1/health");
  expect(health.body).toMatchObject({ status: "ok", store: { compaction: { failures: 1 } } });
  disk!.free();
  h = await h.reopen();
  expect(h.controller.getJob(job.id)?.status).toBe("queued");
  expect(h.controller.core.store.jobs.size).toBe(6);
});

test.skipIf(skip !== undefined)("secrets file on a full disk: 507, the old file intact, no temp file, nothing changed in memory", async () => {
  h = onDisk();
  expect((await request("/api/v1/secrets/a", { method: "PUT", body: JSON.stringify({ value: "one" }) })).status).toBe(204);
  disk!.fill();
  const refused = await request("/api/v1/secrets/b", { method: "PUT", body: JSON.stringify({ value: "z".repeat(60_000) }) });
  expect(refused.status).toBe(507);
  expect(h.controller.secrets.names()).toEqual(["a"]);
  expect(disk!.tempFiles()).toEqual([]);
});

test.skipIf(skip !== undefined)("a start on a full disk serves reads; the first change is refused; the probe sees the space come back", async () => {
  h = onDisk();
  const job = h.controller.submitJob({ plugin: "echo" });
  await h.controller.close();
  disk!.fill();
  let writable = 0;
  h = makeController({ onStoreWritable: () => writable++, spaceProbeMs: 20, timer: realTimers }, h.dataDir);
  expect((await request(`/api/v1/jobs/${job.id}`)).status).toBe(200);
  expect((await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", input: { blob: "n".repeat(10_000) } }) })).status).toBe(507);
  expect((await request("/api/v1/health")).body.status).toBe("failed");
  await Bun.sleep(100);
  expect(writable).toBe(0);
  disk!.free();
  for (let i = 0; i < 100 && writable === 0; i++) await Bun.sleep(20);
  expect(writable).toBe(1);
  expect(disk!.tempFiles()).toEqual([]);
});

test.skipIf(skip !== undefined)("a plugin bundle published to a full disk: 507, no temp file, the version not stored", async () => {
  const { makeKey, signedBundle } = await import("../plugin-bundles/fixtures.ts");
  const { MANIFEST_HEADER, SIGNATURE_HEADER } = await import("../../src/reference-controller/bundle-routes.ts");
  h = onDisk();
  const bundle = await signedBundle("big", "1.0.0", await makeKey(), 64 * 1024);
  disk!.fill();
  const res = await h.controller.app.request("/api/v1/plugins/big/1.0.0", {
    method: "PUT",
    headers: { authorization: "Bearer test-admin-token", [MANIFEST_HEADER]: Buffer.from(JSON.stringify(bundle.manifest)).toString("base64url"), [SIGNATURE_HEADER]: bundle.signature },
    body: bundle.bytes,
  });
  expect(res.status).toBe(507);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("store_full");
  expect(disk!.tempFiles()).toEqual([]);
  expect(fs.readdirSync(disk!.dir, { recursive: true }).filter((n) => String(n).endsWith(".tmp"))).toEqual([]);
  disk!.free();
  const manifest = await h.controller.app.request("/api/v1/plugins/big/1.0.0/manifest", { headers: { authorization: "Bearer test-admin-token" } });
  expect(manifest.status).toBe(404);
});
