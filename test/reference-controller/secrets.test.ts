// The controller's secret store: the admin API never returns values; a runner resolves a secret
// only for a job it holds the current lease of, and only for a reference the job declared. Run
// against both stores: the file in the data directory and PostgreSQL (storeUrl).
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decryptJwe } from "../../src/secrets/jwe.ts";
import { RunnerKeyRing, rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { FakeRunner, openController, tempDir, type Harness } from "./helpers.ts";
import { forEachStore, type StoreFixture } from "../helpers/stores.ts";
import { MAX_SECRETS } from "../../src/reference-controller/secret-store.ts";

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
    expect(put.status).toBe(204);
    const list = await h.controller.app.request("/api/v1/secrets", { headers: admin });
    const text = await list.text();
    expect(JSON.parse(text)).toEqual({ secrets: ["db/password"], truncated: false });
    expect(text).not.toContain("s3cret-value");
    expect((await h.controller.app.request("/api/v1/secrets/x", { method: "PUT", headers: {}, body: "{}" })).status).toBe(401);
    expect((await h.controller.app.request("/api/v1/secrets/..bad", { method: "PUT", headers: admin, body: JSON.stringify({ value: "v" }) })).status).toBe(400);
    expect((await h.controller.app.request("/api/v1/secrets/db%2Fpassword", { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await h.controller.app.request("/api/v1/secrets/db%2Fpassword", { method: "DELETE", headers: admin })).status).toBe(404);
  });

  test("POST /edge/v1/secrets/resolve answers only the lease holder, for a declared reference", async () => {
    h = await openController(store);
    await h.controller.secrets.set("token", "tok-123456");
    await h.controller.secrets.set("undeclared", "nope-123456");
    const r1 = FakeRunner.connect(h.controller, "r1");
    const r2 = FakeRunner.connect(h.controller, "r2");
    const job = h.controller.submitJob({ plugin: "echo", secrets: ["token"] });
    r1.send({ type: "credit", slots: 1 });
    await h.settle();
    const offer = r1.last("offer");
    expect(offer.job.id).toBe(job.id);
    const ask = { runnerId: "r1", jobId: job.id, attempt: offer.job.attempt, ref: "token" };
    // Values leave only encrypted: a runner that told no key gets none.
    expect((await resolve(ask, r1.apiKey)).body.error.code).toBe("runner_key_unknown");
    expect((await tellKeys("r1", r1.apiKey)).status).toBe(200);
    const answer = await resolve(ask, r1.apiKey);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toContain("tok-123456");
    expect(await decryptJwe(ring, answer.body.jwe, "the answer")).toBe("tok-123456");
    expect((await resolve({ ...ask, ref: "undeclared" }, r1.apiKey)).status).toBe(404);
    expect((await resolve({ ...ask, attempt: offer.job.attempt + 1 }, r1.apiKey)).status).toBe(404);
    expect((await resolve({ ...ask, runnerId: "r2" }, r2.apiKey)).status).toBe(404);
    expect((await resolve(ask, "wrong-key")).status).toBe(401);
    expect((await resolve({ jobId: job.id }, r1.apiKey)).status).toBe(400);
  });

  test("the secret store keeps secrets across a restart sealed with a 0600 key file, never in plain text", async () => {
    h = await openController(store);
    await h.controller.secrets.set("a", "value-a-1234");
    h = await h.reopen();
    expect(await h.controller.secrets.get("a")).toBe("value-a-1234");
    const { statSync } = await import("node:fs");
    expect(statSync(`${h.dataDir}/controller/secrets.key`).mode & 0o777).toBe(0o600);
    if (store.kind === "embedded") {
      expect(statSync(`${h.dataDir}/controller/secrets.json`).mode & 0o777).toBe(0o600);
      const stored = await readFile(`${h.dataDir}/controller/secrets.json`, "utf8");
      expect(stored).not.toContain("value-a-1234");
      expect(JSON.parse(stored).v).toBe(2);
    } else {
      const rows = await store.sql()`SELECT name, sealed FROM controller_secrets`;
      expect(rows.map((r) => r.name)).toEqual(["a"]);
      expect(JSON.stringify(rows)).not.toContain("value-a-1234");
    }
  });

  test("GET /api/v1/secrets lists the first MAX_SECRETS names and says truncated when the store holds more (filled before the cap or by another tool)", async () => {
    h = await openController(store);
    const names = Array.from({ length: MAX_SECRETS + 5 }, (_, i) => `s${String(i).padStart(5, "0")}`);
    if (store.kind === "postgres") {
      const sql = store.sql();
      await sql`INSERT INTO controller_secrets ${sql(names.map((name) => ({ name, sealed: "not read by a listing" })))}`;
    } else {
      // secrets.json as another tool (or a version before the cap) wrote it; read at start.
      const { writeFileSync } = await import("node:fs");
      writeFileSync(`${h.dataDir}/controller/secrets.json`, JSON.stringify({ v: 2, values: Object.fromEntries(names.map((name) => [name, "not read by a listing"])) }), { mode: 0o600 });
      h = await h.reopen();
    }
    const first = names.slice(0, MAX_SECRETS);
    expect(await h.controller.secrets.names()).toEqual({ names: first, truncated: true });
    const list = async () => (await h.controller.app.request("/api/v1/secrets", { headers: admin })).json();
    expect(await list()).toEqual({ secrets: first, truncated: true });
    // Deleted down to the cap, the list is whole again.
    for (const name of names.slice(MAX_SECRETS)) expect((await h.controller.app.request(`/api/v1/secrets/${name}`, { method: "DELETE", headers: admin })).status).toBe(204);
    expect(await list()).toEqual({ secrets: first, truncated: false });
  });

  test("POST /edge/v1/keys authenticates first and checks every key", async () => {
    h = await openController(store);
    const r1 = FakeRunner.connect(h.controller, "r1");
    expect((await tellKeys("r1", "wrong-key")).status).toBe(401);
    const key = ring.publicJwks()[0]!;
    expect((await tellKeys("r1", r1.apiKey, [{ ...key, kid: "not-the-thumbprint" }])).body.error.message).toContain("not the RFC 7638 thumbprint");
    expect((await tellKeys("r1", r1.apiKey, [])).status).toBe(400);
    expect((await tellKeys("r1", r1.apiKey, [{ kty: "EC" }])).status).toBe(400);
    expect((await tellKeys("r1", r1.apiKey)).body).toEqual({ v: 1, current: key.kid });
    const runners = await h.controller.app.request("/api/v1/runners", { headers: admin });
    expect(JSON.stringify(await runners.json())).toContain(key.kid);
  });
});

forEachStore("controller secrets shared by replicas", (store) => {
  test("a second controller on the same database with the same key file resolves the first one's secrets; another key is refused at start (78)", async () => {
    // One database for every controller below (options() empties it).
    const options = await store.options();
    const sameDatabase: StoreFixture = { kind: store.kind, server: store.server, sql: () => store.sql(), options: async () => options };
    h = await openController(sameDatabase);
    const keyFile = `${h.dataDir}/controller/secrets.key`;
    await h.controller.secrets.set("db/password", "shared-value-1234");
    // A replica: its own data directory, the same database and key file.
    const replica = await openController(sameDatabase, { secretsKeyFile: keyFile }, tempDir());
    try {
      expect((await replica.controller.secrets.names()).names).toEqual(["db/password"]);
      expect(await replica.controller.secrets.get("db/password")).toBe("shared-value-1234");
      await replica.controller.secrets.delete("db/password");
      expect((await h.controller.secrets.names()).names).toEqual([]);
    } finally {
      await replica.controller.close();
    }
    // Its own, other key: it could open none of them, so it does not start.
    const { ConfigError } = await import("../../src/config/resolve.ts");
    let refused: unknown;
    try {
      await (await openController(sameDatabase, {}, tempDir())).controller.close();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as InstanceType<typeof ConfigError>).field).toBe("secretsKeyFile");
  });
}, ["postgres"]);

forEachStore("controller secrets in PostgreSQL", (store) => {
  test("the PostgreSQL store keeps at most MAX_SECRETS, as the file store: a new name past it is refused (409), a stored one can still be replaced, and GET /api/v1/secrets lists at most that many", async () => {
    h = await openController(store);
    const sql = store.sql();
    // MAX_SECRETS - 1 rows as another replica left them (their sealed values are never opened here).
    const names = Array.from({ length: MAX_SECRETS - 1 }, (_, i) => ({ name: `s${String(i).padStart(4, "0")}`, sealed: "v1.x" }));
    await sql`INSERT INTO controller_secrets ${sql(names, "name", "sealed")}`;
    const put = (name: string) => h.controller.app.request(`/api/v1/secrets/${name}`, { method: "PUT", headers: admin, body: JSON.stringify({ value: "value-1234" }) });
    expect((await put("last")).status).toBe(204);
    const refused = await put("one-more");
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: "conflict",
      message: `Cannot store secret "one-more": the controller's PostgreSQL store holds ${MAX_SECRETS} secrets, the most it keeps (${MAX_SECRETS}); delete one first`,
    });
    expect((await put("last")).status).toBe(204);
    const listed = (await (await h.controller.app.request("/api/v1/secrets", { headers: admin })).json()) as { secrets: string[] };
    expect(listed.secrets).toHaveLength(MAX_SECRETS);
    expect((await h.controller.app.request("/api/v1/secrets/s0000", { method: "DELETE", headers: admin })).status).toBe(204);
    expect((await put("one-more")).status).toBe(204);
    const [count] = await sql<Array<{ count: number }>>`SELECT count(*)::int AS count FROM controller_secrets`;
    expect(count?.count).toBe(MAX_SECRETS);
  });
}, ["postgres"]);
