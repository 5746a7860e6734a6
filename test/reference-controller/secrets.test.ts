// The controller's secret store: the admin API never returns values; a runner resolves a secret
// only for a job it holds the current lease of, and only for a reference the job declared.
import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decryptJwe } from "../../src/secrets/jwe.ts";
import { RunnerKeyRing, rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { FakeRunner, openController, type Harness } from "./helpers.ts";

const ringDir = await mkdtemp(join(tmpdir(), "ctl-ring-"));
await rotateRunnerKey(ringDir, { modulusLength: 2048 });
const ring = await RunnerKeyRing.load(ringDir);

async function tellKeys(runnerId: string, apiKey: string, keys: unknown = ring.publicJwks()) {
  const res = await h.controller.app.request("/edge/v1/keys", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "x-edge-runner-id": runnerId },
    body: JSON.stringify({ v: 1, runnerId, keys }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

async function resolve(body: Record<string, unknown>, apiKey: string) {
  const res = await h.controller.app.request("/edge/v1/secrets/resolve", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ v: 1, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

forEachStore("controller secrets", (store) => {
  test("admin API stores, lists (names only) and deletes secrets", async () => {
    h = await openController(store);
    const put = await h.controller.app.request("/api/v1/secrets/db%2Fpassword", { method: "PUT", headers: admin, body: JSON.stringify({ value: "s3cret-value" }) });
    await h.settle();
    expect(put.status).toBe(204);
    const list = await h.controller.app.request("/api/v1/secrets", { headers: admin });
    await h.settle();
    const text = await list.text();
    expect(JSON.parse(text)).toEqual({ secrets: ["db/password"] });
    expect(text).not.toContain("s3cret-value");
    expect((await h.controller.app.request("/api/v1/secrets/x", { method: "PUT", headers: {}, body: "{}" })).status).toBe(401);
    expect((await h.controller.app.request("/api/v1/secrets/..bad", { method: "PUT", headers: admin, body: JSON.stringify({ value: "v" }) })).status).toBe(400);
    expect((await h.controller.app.request("/api/v1/secrets/db%2Fpassword", { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await h.controller.app.request("/api/v1/secrets/db%2Fpassword", { method: "DELETE", headers: admin })).status).toBe(404);
  });

  test("POST /edge/v1/secrets/resolve answers only the lease holder, for a declared reference", async () => {
    h = await openController(store);
    h.controller.secrets.set("token", "tok-123456");
    await h.settle();
    h.controller.secrets.set("undeclared", "nope-123456");
    await h.settle();
    const r1 = FakeRunner.connect(h.controller, "r1");
    await h.settle();
    const r2 = FakeRunner.connect(h.controller, "r2");
    await h.settle();
    const job = h.controller.submitJob({ plugin: "echo", secrets: ["token"] });
    await h.settle();
    r1.send({ type: "credit", slots: 1 });
    await h.settle();
    await h.controller.durable();
    await h.settle();
    const offer = r1.last("offer");
    expect(offer.job.id).toBe(job.id);
    const ask = { runnerId: "r1", jobId: job.id, attempt: offer.job.attempt, ref: "token" };
    // Values leave only encrypted: a runner that told no key gets none.
    expect((await resolve(ask, r1.apiKey)).body.error.code).toBe("runner_key_unknown");
    expect((await tellKeys("r1", r1.apiKey)).status).toBe(200);
    const answer = await resolve(ask, r1.apiKey);
    await h.settle();
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toContain("tok-123456");
    expect(await decryptJwe(ring, answer.body.jwe, "the answer")).toBe("tok-123456");
    expect((await resolve({ ...ask, ref: "undeclared" }, r1.apiKey)).status).toBe(404);
    expect((await resolve({ ...ask, attempt: offer.job.attempt + 1 }, r1.apiKey)).status).toBe(404);
    expect((await resolve({ ...ask, runnerId: "r2" }, r2.apiKey)).status).toBe(404);
    expect((await resolve(ask, "wrong-key")).status).toBe(401);
    expect((await resolve({ jobId: job.id }, r1.apiKey)).status).toBe(400);
  });

  test("SecretStore keeps secrets across a restart sealed with a 0600 key file, never in plain text", async () => {
    h = await openController(store);
    h.controller.secrets.set("a", "value-a-1234");
    await h.settle();
    h = await h.reopen();
    expect(h.controller.secrets.get("a")).toBe("value-a-1234");
    const { statSync } = await import("node:fs");
    await h.settle();
    expect(statSync(`${h.dataDir}/controller/secrets.json`).mode & 0o777).toBe(0o600);
    expect(statSync(`${h.dataDir}/controller/secrets.key`).mode & 0o777).toBe(0o600);
    const stored = await readFile(`${h.dataDir}/controller/secrets.json`, "utf8");
    await h.settle();
    expect(stored).not.toContain("value-a-1234");
    expect(JSON.parse(stored).v).toBe(2);
  });

  test("POST /edge/v1/keys authenticates first and checks every key", async () => {
    h = await openController(store);
    const r1 = FakeRunner.connect(h.controller, "r1");
    await h.settle();
    expect((await tellKeys("r1", "wrong-key")).status).toBe(401);
    const key = ring.publicJwks()[0]!;
    await h.settle();
    expect((await tellKeys("r1", r1.apiKey, [{ ...key, kid: "not-the-thumbprint" }])).body.error.message).toContain("not the RFC 7638 thumbprint");
    expect((await tellKeys("r1", r1.apiKey, [])).status).toBe(400);
    expect((await tellKeys("r1", r1.apiKey, [{ kty: "EC" }])).status).toBe(400);
    expect((await tellKeys("r1", r1.apiKey)).body).toEqual({ v: 1, current: key.kid });
    const runners = await h.controller.app.request("/api/v1/runners", { headers: admin });
    await h.settle();
    expect(JSON.stringify(await runners.json())).toContain(key.kid);
  });
});
