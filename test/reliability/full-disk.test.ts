// Issue 9 item 2: one behaviour for "the store cannot be written", at every write site of the
// controller, on a real full file system (a small tmpfs): changes refused with 507, reads and
// health (`failed`, with the reason) still served, no temp file left, nothing acknowledged that
// is not on disk, and a probe that notices when space is back. No crash at any site.

import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { FakeRunner, makeController, type Harness } from "../reference-controller/helpers.ts";
import { SYNCHRONOUS } from "../../src/reference-controller/group-commit.ts";
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

/**
 * Each test is about one write site meeting the full disk, so the journal does not grow ahead of
 * its data here (preallocateBytes 0): writes that fit in that room succeed on a full disk, which
 * test/chaos/full-disk.test.ts covers with the default.
 */
function onDisk(extra: Parameters<typeof makeController>[0] = {}): Harness {
  disk = Tmpfs.mount(4 * 1024 * 1024);
  return makeController({ ...extra, commit: { ...(extra.commit ?? SYNCHRONOUS), preallocateBytes: 0 } }, path.join(disk.dir, "data"));
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
  expect((await h.controller.secrets.names()).names).toEqual(["a"]);
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

// The write sites added after the first five: artifacts, job callbacks, approvals, runner keys and
// the key/token files created at start. Same behaviour: 507/503, nothing partial, nothing acked.

function dataFiles(): string[] {
  return fs.readdirSync(disk!.dir, { recursive: true }).map(String).filter((n) => /\.tmp$|\.tmp-|\.data$|\.meta$/.test(n));
}

/** A job leased to runner r1 on a fresh tmpfs, and a 1 MiB upload of its artifact "out.bin". */
async function leasedUpload(): Promise<{ put: () => Promise<Response>; job: { id: string } }> {
  const { EDGE_PATHS } = await import("../../src/protocol/edge-v1.ts");
  h = onDisk();
  const r = FakeRunner.connect(h.controller, "r1");
  const job = h.controller.submitJob({ plugin: "echo" });
  r.send({ type: "credit", slots: 1 });
  const attempt = r.last("offer").job.attempt;
  const put = async () => h!.controller.app.request(EDGE_PATHS.artifact(job.id, attempt, "out.bin"), {
    method: "PUT",
    headers: { authorization: `Bearer ${r.apiKey}`, "x-edge-runner-id": "r1", "content-type": "application/octet-stream" },
    body: new Uint8Array(1024 * 1024).fill(7),
  });
  return { put, job };
}

test.skipIf(skip !== undefined)("an artifact upload that fills the disk: 507, no partial file, no record; after space is back it stores", async () => {
  const { put, job } = await leasedUpload();
  // Room for part of the body: the write fails midway.
  disk!.fill(256 * 1024);
  const refused = await put();
  expect(refused.status).toBe(507);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("store_full");
  expect(dataFiles()).toEqual([]);
  expect(await h!.controller.artifacts.list(job.id)).toEqual([]);
  const listed = await request(`/api/v1/jobs/${job.id}/artifacts`);
  expect(listed).toMatchObject({ status: 200, body: { artifacts: [] } });
  disk!.free();
  expect((await put()).status).toBe(200);
  expect(await h!.controller.artifacts.list(job.id)).toMatchObject([{ name: "out.bin", size: 1024 * 1024 }]);
});

test.skipIf(skip !== undefined)("an artifact upload after the store failed is refused even with space left", async () => {
  const { put } = await leasedUpload();
  disk!.fill();
  expect((await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", input: { blob: "n".repeat(10_000) } }) })).status).toBe(507);
  disk!.free();
  expect((await put()).status).toBe(507);
  expect(dataFiles()).toEqual([]);
});

for (const site of ["steps", "logs", "result"] as const) {
  test.skipIf(skip !== undefined)(`a job callback (${site}) on a full disk: 507, not "accepted"`, async () => {
    const { CallbackTokens } = await import("../../src/reference-controller/callback-tokens.ts");
    // Batched commits, as in production: the answer must wait for the batch's fsync.
    h = onDisk({ commit: {} });
    const job = h.controller.submitJob({ plugin: "manual" });
    await h.controller.durable();
    const token = CallbackTokens.inDir(h.controller.dataDir).token(job.id);
    const big = "m".repeat(16 * 1024);
    const body = site === "steps" ? { id: "build", status: "running", message: big }
      : site === "logs" ? { lines: [{ msg: big }, { msg: big }] }
      : { status: "succeeded", error: { message: big } };
    disk!.fill();
    const res = await h.controller.app.request(`/callback/v1/jobs/${job.id}/${site}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(507);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("store_full");
    // Reads are still served.
    expect((await h.controller.app.request(`/callback/v1/jobs/${job.id}/approval`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(disk!.tempFiles()).toEqual([]);
  });
}

// Approvals go through the admin API, whose answers already waited for the journal's fsync: this
// one passed before the callback and key fixes too; it pins the approval site to the behaviour.
test.skipIf(skip !== undefined)("an approval on a full disk: 507, and after a restart the job has no decision", async () => {
  h = onDisk({ commit: {} });
  // A large job: its record, rewritten with the decision, is larger than a page.
  const job = h.controller.submitJob({ plugin: "manual", input: { blob: "i".repeat(10_000) } });
  await h.controller.durable();
  disk!.fill();
  const res = await request(`/api/v1/jobs/${job.id}/approve`, { method: "POST", body: JSON.stringify({ comment: "ok" }) });
  expect(res.status).toBe(507);
  disk!.free();
  h = await h.reopen();
  expect(h.controller.core.getJob(job.id)?.approval).toBeUndefined();
});

test.skipIf(skip !== undefined)("runner keys told on a full disk (POST /edge/v1/keys): 507, not stored", async () => {
  const { mkdtemp } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { RunnerKeyRing, rotateRunnerKey } = await import("../../src/secrets/key-ring.ts");
  const ringDir = await mkdtemp(path.join(tmpdir(), "full-disk-ring-"));
  await rotateRunnerKey(ringDir, { modulusLength: 2048 });
  const keys = (await RunnerKeyRing.load(ringDir)).publicJwks();
  fs.rmSync(ringDir, { recursive: true, force: true });
  h = onDisk({ commit: {} });
  const { apiKey } = await h.controller.registerRunner({ id: "r1", group: "default" });
  disk!.fill();
  // The keys are a small record that can fit the journal's last page: fail the store first with a
  // large change; the keys must then be refused too, not answered 400 (which a runner never retries).
  expect((await request("/api/v1/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", input: { blob: "n".repeat(10_000) } }) })).status).toBe(507);
  const res = await h.controller.app.request("/edge/v1/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "x-edge-runner-id": "r1" },
    body: JSON.stringify({ v: 1, runnerId: "r1", keys }),
  });
  expect(res.status).toBe(507);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("store_full");
  disk!.free();
  h = await h.reopen();
  expect(h.controller.core.store.runners.get("r1")?.encryptionKeys).toBeUndefined();
});

test.skipIf(skip !== undefined)("key and token files created on a full disk: an error, no empty or short file left, created whole later", async () => {
  const { CallbackTokens } = await import("../../src/reference-controller/callback-tokens.ts");
  const { loadOrCreateAdminToken } = await import("../../src/reference-controller/tokens.ts");
  const { AtRestCipher } = await import("../../src/secrets/at-rest.ts");
  disk = Tmpfs.mount(1024 * 1024);
  const dir = path.join(disk.dir, "controller");
  fs.mkdirSync(dir);
  disk.fill();
  const creators = [
    () => CallbackTokens.inDir(dir),
    () => loadOrCreateAdminToken(path.join(dir, "admin-token")),
    () => AtRestCipher.fromKeyFile(path.join(dir, "secrets.key")),
  ];
  for (const create of creators) expect(create).toThrow(expect.objectContaining({ code: "ENOSPC" }));
  expect(fs.readdirSync(dir)).toEqual([]);
  disk.free();
  const tokens = CallbackTokens.inDir(dir);
  expect(tokens.verify("j", tokens.token("j"))).toBe(true);
  expect(loadOrCreateAdminToken(path.join(dir, "admin-token")).token.length).toBeGreaterThan(20);
  expect(AtRestCipher.fromKeyFile(path.join(dir, "secrets.key")).seal("v", "n")).toStartWith("v1.");
  expect(fs.readdirSync(dir).sort()).toEqual(["admin-token", "callback.key", "secrets.key"]);
});
