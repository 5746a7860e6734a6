// Long-poll sessions across replicas on one PostgreSQL database (issue 16, "sessions live in the
// database too"): two real controllers listening on ports. A session created on A is listed in
// `edge_sessions` (the token's hash, never the token); its send/receive/DELETE calls that reach B
// are forwarded to A's advertised URL, so a load balancer without affinity causes no 404 churn;
// once A is gone (or unreachable) B answers 404 and the runner's new session on B works; a request
// that says it was forwarded is never forwarded again; B's runner list shows the runner connected.

import { afterEach, expect, test } from "bun:test";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { FORWARDED_HEADER } from "../../src/reference-controller/session-forward.ts";
import { sha256Hex } from "../../src/reference-controller/tokens.ts";
import { eventually, tempDir } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";

const ADMIN = "test-admin-token";
const running: ReferenceController[] = [];
const dirs: Array<{ remove: () => void }> = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.close();
  for (const d of dirs.splice(0)) d.remove();
});

type Answer = { status: number; body: Record<string, unknown> };

async function call(base: string, method: string, route: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

forEachStore("long-poll sessions forwarded between replicas", (store) => {
  async function replica(name: string, logger = memoryLogger()): Promise<ReferenceController> {
    const dir = tempDir();
    dirs.push(dir);
    const keyDir = tempDir();
    dirs.push(keyDir);
    const controller = await ReferenceController.start({
      ...(await store.options()),
      dataDir: path.join(dir.dir, name),
      secretsKeyFile: path.join(sharedKeyDir, "secrets.key"),
      adminToken: ADMIN,
      pollWaitMs: 1_000,
      logger: logger.logger,
    });
    running.push(controller);
    return controller;
  }
  let sharedKeyDir = "";

  async function createSession(base: string, apiKey: string): Promise<{ sessionId: string; token: string }> {
    const created = await call(base, "POST", "/edge/v1/sessions", apiKey, { v: 1, runnerId: "r1", group: "default", version: "test", transport: "poll" });
    expect(created.status).toBe(201);
    return created.body as { sessionId: string; token: string };
  }

  /** Receives through `base` until a message of `type` arrives; every answer must be 200. */
  async function receiveUntil(base: string, sessionId: string, token: string, type: string): Promise<Record<string, unknown>> {
    return eventually(async () => {
      const got = await call(base, "GET", `/edge/v1/sessions/${sessionId}/receive?waitMs=500`, token);
      expect(got.status).toBe(200);
      return (got.body.messages as Array<Record<string, unknown>>).find((m) => m.type === type);
    }, 15_000, `a ${type} through ${base}`);
  }

  test("a session created on A is served through B (send, receive, offers for jobs submitted on B, DELETE); the row holds the token's hash only; B lists the runner connected", async () => {
    const keys = tempDir();
    dirs.push(keys);
    sharedKeyDir = keys.dir;
    const a = await replica("a");
    const b = await replica("b");
    const apiKey = a.registerRunner({ id: "r1", group: "default" }).apiKey;
    const { sessionId, token } = await createSession(a.url, apiKey);

    const rows = await store.sql()<Array<Record<string, string>>>`SELECT * FROM edge_sessions`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: sessionId, runner_id: "r1", grp: "default", advertise_url: a.url, token_hash: sha256Hex(token) });
    expect(Object.values(rows[0] as object).map(String)).not.toContain(token);

    // Every call goes through B: none is answered 404.
    expect((await call(b.url, "POST", `/edge/v1/sessions/${sessionId}/send`, token, { messages: [{ v: 1, type: "credit", slots: 1 }] })).status).toBe(202);
    const job = b.submitJob({ plugin: "echo" });
    await b.durable();
    const offer = await receiveUntil(b.url, sessionId, token, "offer");
    expect(offer.job).toMatchObject({ id: job.id, attempt: 1 });
    const sent = await call(b.url, "POST", `/edge/v1/sessions/${sessionId}/send`, token, {
      messages: [
        { v: 1, type: "accept", jobId: job.id, attempt: 1 },
        { v: 1, type: "result", jobId: job.id, attempt: 1, lastSeq: 0, status: "succeeded", output: { via: "b" }, startedAt: 1, finishedAt: 2 },
      ],
    });
    expect(sent.status).toBe(202);
    expect((await receiveUntil(b.url, sessionId, token, "result_ack")).accepted).toBe(true);
    expect(await b.waitForJob(job.id, 10_000)).toMatchObject({ status: "succeeded", output: { via: "b" } });

    const listed = await fetch(`${b.url}/api/v1/runners`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await listed.json()) as { runners: Array<{ id: string; connected: boolean }> }).runners).toEqual([expect.objectContaining({ id: "r1", connected: true })]);

    // A wrong token is refused by B before anything is forwarded.
    expect((await call(b.url, "GET", `/edge/v1/sessions/${sessionId}/receive?waitMs=0`, "wrong")).status).toBe(401);
    // A request that claims to be forwarded already is not forwarded again (no loops).
    const forged = await call(b.url, "POST", `/edge/v1/sessions/${sessionId}/send`, token, { messages: [] }, { [FORWARDED_HEADER]: "someone" });
    expect(forged.status).toBe(404);
    expect(a.core.sessions.get(sessionId)).toBeDefined();

    // DELETE through B ends the session on A, and its row goes.
    expect((await call(b.url, "DELETE", `/edge/v1/sessions/${sessionId}`, token)).status).toBe(200);
    expect(a.core.sessions.get(sessionId)).toBeUndefined();
    await a.durable();
    expect(await store.sql()`SELECT id FROM edge_sessions`).toHaveLength(0);
    expect((await call(b.url, "POST", `/edge/v1/sessions/${sessionId}/send`, token, { messages: [] })).status).toBe(404);
  }, 60_000);

  test("once the owner is gone or unreachable B answers 404, and the runner's new session on B works", async () => {
    const keys = tempDir();
    dirs.push(keys);
    sharedKeyDir = keys.dir;
    const a = await replica("a");
    const bLog = memoryLogger();
    const b = await replica("b", bLog);
    const apiKey = a.registerRunner({ id: "r1", group: "default" }).apiKey;
    const first = await createSession(a.url, apiKey);
    expect((await call(b.url, "POST", `/edge/v1/sessions/${first.sessionId}/send`, first.token, { messages: [{ v: 1, type: "credit", slots: 1 }] })).status).toBe(202);

    // A replica killed without a word leaves its row behind: stand in with a row of a replica
    // whose port no longer answers (A's, once A is closed), last seen just now.
    const aUrl = a.url;
    await a.close();
    await store.sql()`INSERT INTO edge_sessions (id, runner_id, grp, replica_id, advertise_url, token_hash, created_at, last_seen_at)
      VALUES (${first.sessionId}, 'r1', 'default', 'dead-replica', ${aUrl}, ${sha256Hex(first.token)}, ${Date.now()}, ${Date.now()})`;
    expect((await call(b.url, "POST", `/edge/v1/sessions/${first.sessionId}/send`, first.token, { messages: [] })).status).toBe(404);
    expect(bLog.records.some((r) => r.msg.includes("Cannot reach the replica holding a session"))).toBe(true);
    expect(JSON.stringify(bLog.records)).not.toContain(first.token);

    // A row last seen longer ago than the session expiry is a dead replica's: ignored.
    await store.sql()`UPDATE edge_sessions SET last_seen_at = ${Date.now() - 60_000}`;
    const before = bLog.records.length;
    expect((await call(b.url, "GET", `/edge/v1/sessions/${first.sessionId}/receive?waitMs=0`, first.token)).status).toBe(404);
    expect(bLog.records.slice(before).some((r) => r.msg.includes("Cannot reach"))).toBe(false);

    const second = await createSession(b.url, apiKey);
    expect((await call(b.url, "POST", `/edge/v1/sessions/${second.sessionId}/send`, second.token, { messages: [{ v: 1, type: "credit", slots: 1 }] })).status).toBe(202);
    const job = b.submitJob({ plugin: "echo" });
    await b.durable();
    expect((await receiveUntil(b.url, second.sessionId, second.token, "offer")).job).toMatchObject({ id: job.id });
  }, 60_000);
}, ["postgres"]);
