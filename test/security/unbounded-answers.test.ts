// Answers from the other side are read through a capped reader (src/util/read-limited.ts), never
// whole: a local server answers 256 MiB (streamed, no content-length) to every client that used
// `response.json()`, `.text()` or `.arrayBuffer()`, and each must stop reading within a few MiB
// of its cap and say which cap. Deep JSON and a non-object answer get a clear error, not a crash.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { AdminClient, DEFAULT_MAX_ANSWER_BYTES } from "../../src/cli/http-client.ts";
import { publishBundle } from "../../src/cli/plugin-tools/publish-bundle.ts";
import { runnerActivity } from "../../src/ops/runner-activity.ts";
import { probeOnce } from "../../src/ops/health-probe.ts";
import { httpRequestText } from "../../src/ops/doctor/http-request.ts";
import { ApiClient } from "../../src/plugins/builtin/api-client.ts";
import { CALLBACK_TOKEN_REF, CALLBACK_URL_REF } from "../../src/plugins/builtin/callback-info.ts";
import manual, { MAX_DECISION_BYTES } from "../../src/plugins/builtin/manual/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { GcpBackend } from "../../src/secrets/references/gcp-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { makeController } from "../reference-controller/helpers.ts";

const MIB = 1024 * 1024;
const HUGE_MIB = 256;
/** MiB chunks the server handed out for the last huge answer. */
let served = 0;
let server: HttpServer;

/** 256 MiB that starts as JSON and never ends it: only a reader without a cap gets to the end. */
function hugeAnswer(status: number): Response {
  const chunk = new Uint8Array(MIB).fill(0x78);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode('{"error":{"code":"x","message":"'));
      if (sent >= HUGE_MIB) return controller.close();
      sent++;
      served = sent;
      controller.enqueue(chunk);
    },
  });
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}

const DEEP = 50_000;
beforeAll(async () => {
  const app = new Hono();
  app.all("/huge/*", () => hugeAnswer(200));
  app.all("/huge500/*", () => hugeAnswer(500));
  app.all("/deep/*", (c) => c.body(`${"[".repeat(DEEP)}${"]".repeat(DEEP)}`, 200, { "content-type": "application/json" }));
  app.get("/deep-id/status", (c) => c.body(`{"state":"running","running":[{"jobId":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}]}`, 200, { "content-type": "application/json" }));
  app.all("/null/*", (c) => c.body("null", 500, { "content-type": "application/json" }));
  server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
});
afterAll(() => server.close());
beforeEach(() => {
  served = 0;
});

/** Read-ahead past the cap is allowed, a read of the whole answer is not. */
function expectStoppedNear(capBytes: number): void {
  expect(served).toBeGreaterThan(0);
  expect(served).toBeLessThan(Math.ceil(capBytes / MIB) + 48);
}

test("AdminClient refuses an answer past DEFAULT_MAX_ANSWER_BYTES as it arrives", async () => {
  const client = new AdminClient({ baseUrl: `${server.url}/huge`, adminToken: "t" });
  await expect(client.getJob("j1")).rejects.toThrow(`GET /jobs/j1 answered 200 with a body larger than ${DEFAULT_MAX_ANSWER_BYTES} bytes`);
  expectStoppedNear(DEFAULT_MAX_ANSWER_BYTES);
});

test("AdminClient reads an error answer only 64 KiB far, and the artifact's error too", async () => {
  const client = new AdminClient({ baseUrl: `${server.url}/huge500`, adminToken: "t" });
  await expect(client.getJob("j1")).rejects.toThrow("GET /jobs/j1 answered 500 with a body larger than 65536 bytes");
  expectStoppedNear(64 * 1024);
  served = 0;
  await expect(client.getArtifact("j1", "a")).rejects.toThrow("GET /jobs/j1/artifacts/a answered 500");
  expectStoppedNear(64 * 1024);
});

test("AdminClient refuses JSON nested past 100 levels, and an error answer that is not an object", async () => {
  await expect(new AdminClient({ baseUrl: `${server.url}/deep`, adminToken: "t" }).getJob("j1")).rejects.toThrow("with JSON nested deeper than 100 levels");
  const error = await new AdminClient({ baseUrl: `${server.url}/null`, adminToken: "t" }).getJob("j1").catch((e: unknown) => e);
  expect(error).toMatchObject({ status: 500, serverCode: "unknown", message: "GET /jobs/j1 answered 500" });
});

test("publishBundle() reads the controller's answer at most 64 KiB far", async () => {
  const dir = mkdtempSync(join(tmpdir(), "publish-answer-"));
  const bytes = new TextEncoder().encode("export default 1;\n");
  const digest = `sha256-${createHash("sha256").update(bytes).digest("base64url")}`;
  writeFileSync(join(dir, "b.js"), bytes);
  writeFileSync(join(dir, "m.json"), JSON.stringify({ name: "p", version: "1.0.0", digest, size: bytes.byteLength, sdkVersion: "1", builtAt: new Date(0).toISOString() }));
  writeFileSync(join(dir, "s.jws"), "x.y.z");
  const options = { bundlePath: join(dir, "b.js"), manifestPath: join(dir, "m.json"), signaturePath: join(dir, "s.jws"), adminToken: "t" };
  await expect(publishBundle({ ...options, controllerUrl: `${server.url}/huge` })).rejects.toThrow('Cannot publish bundle "p@1.0.0": the controller answered 200 with a body larger than 65536 bytes');
  expectStoppedNear(64 * 1024);
  // An answer of `null` is no answer, not a crash.
  await expect(publishBundle({ ...options, controllerUrl: `${server.url}/null` })).rejects.toThrow('Cannot publish bundle "p@1.0.0": the controller answered 500');
});

test("runnerActivity() refuses a /status past 4 MiB, and a job id that is no string is '?'", async () => {
  await expect(runnerActivity({ statusUrl: `${server.url}/huge` })).rejects.toThrow(`"${server.url}/huge/status" answered more than ${4 * MIB} bytes`);
  expectStoppedNear(4 * MIB);
  expect(await runnerActivity({ statusUrl: `${server.url}/deep-id` })).toEqual({ kind: "busy", state: "running", jobIds: ["?"] });
});

test("probeOnce() reads a health answer at most 64 KiB far", async () => {
  const result = await probeOnce({ url: `${server.url}/huge/healthz`, requestTimeoutMs: 30_000 });
  expect(result).toEqual({ ok: false, reason: "HTTP 200 with an answer larger than 65536 bytes" });
  expectStoppedNear(64 * 1024);
});

test("httpRequestText() (the doctor's probes) stops reading at 64 KiB instead of reading to the end", async () => {
  const answer = await httpRequestText({ url: `${server.url}/huge/healthz`, timeoutMs: 30_000 });
  expect(answer.status).toBe(200);
  expect(answer.body.length).toBe(64 * 1024);
  expectStoppedNear(64 * 1024);
});

test("the manual plugin fails the job on an approval answer past MAX_DECISION_BYTES", async () => {
  const ctx = createTestContext({ jobId: "j1", secrets: { [CALLBACK_URL_REF]: `${server.url}/huge`, [CALLBACK_TOKEN_REF]: "t" } });
  await expect(manual.actions.default?.({ pollMs: 100, timeoutMs: 60_000 }, ctx)).rejects.toThrow(`the controller's answer is larger than ${MAX_DECISION_BYTES} bytes`);
  expectStoppedNear(MAX_DECISION_BYTES);
});

test("ApiClient (GitHub, GitLab, Azure DevOps) holds its 4 MiB cap on a chunked answer as it streams", async () => {
  const api = new ApiClient(createTestContext({ jobId: "j1" }), { maxAttempts: 1 });
  await expect(api.request({ integration: "GitHub", call: "poll run", method: "GET", url: `${server.url}/huge/x`, idempotent: true })).rejects.toThrow(`the answer is over ${4 * MIB} bytes`);
  expectStoppedNear(4 * MIB);
});

test("GcpBackend refuses a token answer past 1 MiB as it arrives", async () => {
  const backend = new GcpBackend({ endpoint: `${server.url}/huge`, metadataUrl: `${server.url}/huge`, timeoutMs: 30_000 });
  const ref = parseReference("gcp:projects/p/secrets/s/versions/1") as Extract<ReturnType<typeof parseReference>, { backend: "gcp" }>;
  await expect(backend.read(ref)).rejects.toThrow(`the answer is over ${MIB} bytes`);
  expectStoppedNear(MIB);
});

test("the controller reads an approve/reject body at most 8 KiB far", async () => {
  const h = makeController();
  try {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled++ >= HUGE_MIB) return controller.close();
        controller.enqueue(new Uint8Array(MIB).fill(0x20));
      },
    });
    const job = h.controller.submitJob({ plugin: "manual" });
    const response = await h.controller.app.request(`/api/v1/jobs/${job.id}/approve`, {
      method: "POST", headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body, duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("the body is over 8 KiB");
    expect(pulled).toBeLessThan(8);
  } finally {
    await h.controller.close();
  }
});
