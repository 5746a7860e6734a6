// Sessions across replicas on one PostgreSQL database (issue 16, "sessions live in the database
// too"): two real controllers listening on ports. A session created on A is listed in
// `edge_sessions` (the token's hash, never the token); its send/receive/DELETE calls that reach B
// are forwarded to A's advertised URL, so a load balancer without affinity causes no 404 churn;
// once A is gone (or unreachable) B answers 404 and the runner's new session on B works; a request
// that says it was forwarded is never forwarded again; B's runner list shows the runner connected.
// A WebSocket attach that reaches B is relayed to A the same way (a real runner on `auto` stays on
// WebSocket); a stand-in owner shows what the hop carries, and what B refuses before any hop.

import { afterEach, expect, test } from "bun:test";
import * as path from "node:path";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";
import { openWebSocket } from "../../src/platform/websocket.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { FORWARDED_HEADER } from "../../src/reference-controller/session-forward.ts";
import { sha256Hex } from "../../src/reference-controller/tokens.ts";
import { eventually, startRunner, tempDir } from "../helpers/harness.ts";
import { forEachStore } from "../helpers/stores.ts";

const ADMIN = "test-admin-token";
const running: ReferenceController[] = [];
const dirs: Array<{ remove: () => void }> = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
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
    const apiKey = (await a.registerRunner({ id: "r1", group: "default" })).apiKey;
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
    // Health counts this process's sessions, and beside them the live ones of every replica.
    for (const [replica, own] of [[a, 1], [b, 0]] as const) {
      const health = await fetch(`${replica.url}/api/v1/health`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(await health.json()).toMatchObject({ sessions: own, sessionsAllReplicas: 1 });
    }

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
    const apiKey = (await a.registerRunner({ id: "r1", group: "default" })).apiKey;
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

  test("a runner on auto whose WebSocket attach reaches B runs jobs over WebSocket relayed to A (frames both ways); A's death closes the relayed socket and the runner recovers on B", async () => {
    const keys = tempDir();
    dirs.push(keys);
    sharedKeyDir = keys.dir;
    const a = await replica("a");
    const b = await replica("b");
    // A load balancer without affinity, in miniature: HTTP goes to A while it lives, every
    // WebSocket attach to B (so each attach of a session created on A reaches the other replica).
    let aAlive = true;
    const attaches: string[] = [];
    const client: ControllerClient = {
      fetch: (url, init) => fetch(aAlive ? url : url.replace(a.url, b.url), init),
      openWebSocket: (url) => {
        const to = url.replace(a.url.replace(/^http/, "ws"), b.url.replace(/^http/, "ws"));
        attaches.push(to);
        return openWebSocket(to);
      },
    };
    const { runner, connection, records } = startRunner({ controller: a, transport: "auto", client });
    cleanups.push(() => runner.drain());
    const onA = await eventually(() => [...a.core.sessions.all()].find((s) => s.hasSocket), 15_000, "a WebSocket session on A");
    expect(onA.transport).toBe("websocket");
    expect(b.core.sessions.size).toBe(0);
    expect(attaches.every((to) => to.startsWith(b.url.replace(/^http/, "ws")))).toBe(true);
    // A attaches when B's hop opens, a moment before B completes the runner's upgrade.
    await eventually(() => (connection.status().state === "connected" ? true : undefined), 15_000, "the runner connected");
    expect(connection.status().transport).toBe("websocket");

    // Offers and acks from A to the runner, accepts and results from the runner to A, through B.
    const jobs = [a.submitJob({ plugin: "echo", input: { n: 1 } }), b.submitJob({ plugin: "echo", input: { n: 2 } })];
    for (const job of jobs) expect(await a.waitForJob(job.id, 15_000)).toMatchObject({ status: "succeeded" });
    expect(onA.closed).toBe(false);
    expect(a.core.sessions.get(onA.id)?.transport).toBe("websocket");

    // A dies: the relay closes the runner's socket; the runner's next session is on B (HTTP now
    // goes there), still on WebSocket, and jobs run again.
    aAlive = false;
    await a.close();
    const onB = await eventually(() => [...b.core.sessions.all()].find((s) => s.hasSocket), 15_000, "a WebSocket session on B");
    expect(onB.transport).toBe("websocket");
    // The close A sent its session reached the runner through B, code and reason.
    expect(records.some((r) => r.msg.startsWith("Controller connection lost") && r.msg.includes("WebSocket closed (1001: controller stopping)"))).toBe(true);
    const after = b.submitJob({ plugin: "echo", input: { n: 3 } });
    expect(await b.waitForJob(after.id, 15_000)).toMatchObject({ status: "succeeded", output: { n: 3 } });
    expect(connection.status().transport).toBe("websocket");
    expect(records.some((r) => r.msg.includes("falling back to HTTP long-poll"))).toBe(false);
  }, 60_000);

  test("the WebSocket hop: a wrong token and an attach forwarded already are refused before any hop; the hop carries path, query and the forwarded header; frames and the owner's close code pass; a frame over the cap closes with 1009; an unreachable owner is a failed attach", async () => {
    const keys = tempDir();
    dirs.push(keys);
    sharedKeyDir = keys.dir;
    const bLog = memoryLogger();
    const b = await replica("b", bLog);
    const owner = standInOwner();
    const sessionId = "s-on-a-stand-in";
    const token = "a-session-token-of-forty-three-characters-x";
    await store.sql()`INSERT INTO edge_sessions (id, runner_id, grp, replica_id, advertise_url, token_hash, created_at, last_seen_at)
      VALUES (${sessionId}, 'r1', 'default', 'stand-in', ${owner.url}, ${sha256Hex(token)}, ${Date.now()}, ${Date.now()})`;
    const route = `/edge/v1/sessions/${sessionId}/ws`;

    expect((await fetch(`${b.url}${route}?token=wrong`)).status).toBe(401);
    const wrong = attach(b.url, route, "wrong");
    await eventually(() => wrong.state.closed, 10_000, "the wrong token's attach refused");
    expect(wrong.state.opened).toBe(false);
    expect((await fetch(`${b.url}${route}?token=${token}`, { headers: { [FORWARDED_HEADER]: "someone" } })).status).toBe(404);
    const forged = attach(b.url, route, token, { [FORWARDED_HEADER]: "someone" });
    await eventually(() => forged.state.closed, 10_000, "the forwarded attach refused");
    expect(forged.state.opened).toBe(false);
    expect(owner.requests).toHaveLength(0);

    const relayed = attach(b.url, route, token);
    await eventually(() => (relayed.frames.includes("hello from the owner") ? true : undefined), 10_000, "the owner's frame through B");
    expect(owner.requests).toEqual([{ path: `${route}?token=${token}`, forwarded: expect.any(String) }]);
    expect(owner.requests[0]?.forwarded).not.toBe("");
    relayed.ws.send("hello from the runner");
    await eventually(() => (owner.got.includes("hello from the runner") ? true : undefined), 10_000, "the runner's frame through B");
    owner.socket()?.close(4409, "replaced by a newer session");
    expect(await eventually(() => relayed.state.closed, 10_000, "the owner's close through B")).toEqual({ code: 4409, reason: "replaced by a newer session" });

    const flooded = attach(b.url, route, token);
    await eventually(() => (flooded.state.opened ? true : undefined), 10_000, "a second relayed attach");
    owner.socket()?.send("x".repeat(6 * 1024 * 1024));
    expect((await eventually(() => flooded.state.closed, 10_000, "the oversized frame's close")).code).toBe(1009);
    expect(flooded.frames.some((f) => f.length > 1024)).toBe(false);

    owner.stop();
    const unreachable = attach(b.url, route, token);
    await eventually(() => unreachable.state.closed, 15_000, "the attach to an unreachable owner failing");
    expect(unreachable.state.opened).toBe(false);
    expect(bLog.records.some((r) => r.msg.includes("Cannot reach the replica holding a session"))).toBe(true);
    expect(JSON.stringify(bLog.records)).not.toContain(token);
  }, 60_000);
}, ["postgres"]);

/** A raw WebSocket attach through `base` (Bun's client takes headers), with what it saw. */
function attach(base: string, route: string, token: string, headers?: Record<string, string>) {
  const Ws = WebSocket as unknown as new (url: string, init?: { headers: Record<string, string> }) => WebSocket;
  const ws = new Ws(`${base.replace(/^http/, "ws")}${route}?token=${token}`, headers === undefined ? undefined : { headers });
  const frames: string[] = [];
  const state: { opened: boolean; closed?: { code: number; reason: string } } = { opened: false };
  ws.onopen = () => (state.opened = true);
  ws.onmessage = (event) => frames.push(String(event.data));
  ws.onclose = (event) => (state.closed = { code: event.code, reason: event.reason });
  return { ws, frames, state };
}

/** Stands in for the replica holding a session: records each request, greets each socket. */
function standInOwner() {
  const requests: Array<{ path: string; forwarded: string | null }> = [];
  const got: string[] = [];
  let socket: Bun.ServerWebSocket<unknown> | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, srv) {
      const url = new URL(request.url);
      requests.push({ path: `${url.pathname}${url.search}`, forwarded: request.headers.get(FORWARDED_HEADER) });
      return srv.upgrade(request, { data: undefined }) ? undefined : new Response("not an upgrade", { status: 400 });
    },
    websocket: {
      open(ws) {
        socket = ws;
        ws.send("hello from the owner");
      },
      message(_ws, message) {
        got.push(String(message));
      },
    },
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    void server.stop(true);
  };
  cleanups.push(stop);
  return { url: `http://127.0.0.1:${server.port}`, requests, got, socket: () => socket, stop };
}
