// The edge endpoints over a real server on port 0: WebSocket and long-poll, garbage frames,
// and the session-creation answers of docs/protocol.md.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { memoryLogger } from "../../src/log/logger.ts";
import type { ControllerMessage } from "../../src/protocol/edge-v1.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { tempDir } from "./helpers.ts";

let controller: ReferenceController;
let apiKey: string;

beforeAll(async () => {
  controller = await ReferenceController.start({ dataDir: tempDir(), port: 0, logger: memoryLogger().logger, pollWaitMs: 2000, autoSweep: false });
  apiKey = (await controller.registerRunner({ id: "r1" })).apiKey;
});
afterAll(async () => {
  await controller.close();
});

async function createSession(body: Record<string, unknown>, key = apiKey): Promise<Response> {
  return fetch(`${controller.url}/edge/v1/sessions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}
const good = { v: 1, runnerId: "r1", group: "default", version: "test", transport: "websocket" };

async function until<T>(read: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = read();
    if (value !== undefined) return value;
    await Bun.sleep(5);
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function openWs(sessionId: string, token: string) {
  const ws = new WebSocket(`${controller.url.replace("http", "ws")}/edge/v1/sessions/${sessionId}/ws?token=${token}`);
  const got: ControllerMessage[] = [];
  let closeCode: number | undefined;
  ws.onmessage = (e) => {
    // A frame is one message or a batch (JSON array) of them.
    const value = JSON.parse(String(e.data)) as ControllerMessage | ControllerMessage[];
    if (Array.isArray(value)) got.push(...value);
    else got.push(value);
  };
  ws.onclose = (e) => (closeCode = e.code);
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket failed"));
  });
  return { ws, got, opened, closeCode: () => closeCode };
}

test("POST /edge/v1/sessions answers 400, 401, 403 and 426 per docs/protocol.md", async () => {
  expect((await createSession({ ...good, runnerId: "" })).status).toBe(400);
  expect((await createSession({ ...good, transport: "carrier-pigeon" })).status).toBe(400);
  const bad = await createSession(good, "wrong-key");
  expect(bad.status).toBe(401);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  expect((await createSession({ ...good, runnerId: "nobody" })).status).toBe(401);
  expect((await createSession({ ...good, group: "other" })).status).toBe(403);
  expect((await createSession({ ...good, v: 2 })).status).toBe(426);
  // The key is checked before the body is read: no key is a 401 whatever the body.
  const noKey = await fetch(`${controller.url}/edge/v1/sessions`, { method: "POST", body: "{nope" });
  expect(noKey.status).toBe(401);
  const notJson = await fetch(`${controller.url}/edge/v1/sessions`, { method: "POST", body: "{nope", headers: { authorization: `Bearer ${apiKey}` } });
  expect(notJson.status).toBe(400);
});

test("WebSocket: a batch frame is handled in order; a bad element gets its own error and the rest still counts", async () => {
  const res = await createSession(good);
  const { sessionId, token } = (await res.json()) as { sessionId: string; token: string };
  const client = openWs(sessionId, token);
  await client.opened;
  const before = controller.core.counters.protocolErrors;
  client.ws.send(JSON.stringify([{ v: 1, type: "credit", slots: 2 }, { v: 1, type: "credit" }, { v: 1, type: "credit", slots: 1, reset: true }]));
  await until(() => (client.got.some((m) => m.type === "error") ? true : undefined), "error frame");
  // credit 2, then the malformed element, then reset to 1: order kept, the bad one skipped.
  await until(() => (controller.core.sessions.get(sessionId)?.credit === 1 ? true : undefined), "credit");
  expect(controller.core.counters.protocolErrors - before).toBe(1);
  client.ws.close();
});

test("WebSocket: garbage frames get error frames and are counted; the session goes on", async () => {
  const res = await createSession(good);
  expect(res.status).toBe(201);
  const { sessionId, token, leaseTtlMs } = (await res.json()) as { sessionId: string; token: string; leaseTtlMs: number };
  expect(leaseTtlMs).toBe(30_000);
  const client = openWs(sessionId, token);
  await client.opened;
  const before = controller.core.counters.protocolErrors;
  const garbage = [
    "not json",
    "[]",
    "null",
    '{"v":2,"type":"credit","slots":1}',
    '{"v":1,"type":"credit"}',
    '{"v":1,"type":"credit","slots":1e300}',
    '{"v":1,"type":"credit","slots":9007199254740993}',
    '{"v":1,"type":"log","jobId":"j","attempt":1,"seq":1,"lines":"x"}',
    '{"v":1}',
  ];
  for (const frame of garbage) client.ws.send(frame);
  client.ws.send(new Uint8Array([1, 2, 3]));
  client.ws.send('{"v":1,"type":"future_message","x":1}');
  const errors = await until(() => {
    const e = client.got.filter((m) => m.type === "error");
    return e.length >= garbage.length + 1 ? e : undefined;
  }, "error frames");
  expect(errors.every((m) => m.type === "error" && m.error.code === "malformed_frame")).toBe(true);
  expect(controller.core.counters.protocolErrors - before).toBe(garbage.length + 1);
  expect(controller.core.counters.unknownTypes).toBeGreaterThanOrEqual(1);

  client.ws.send('{"v":1,"type":"credit","slots":1}');
  await until(() => (controller.core.sessions.get(sessionId)?.credit === 1 ? true : undefined), "credit");
  const job = controller.submitJob({ plugin: "echo", input: { hello: "world" } });
  const offer = await until(() => client.got.find((m) => m.type === "offer"), "offer");
  expect(offer).toMatchObject({ v: 1, type: "offer", job: { id: job.id, attempt: 1, input: { hello: "world" } } });

  // The token was single use.
  const replay = await fetch(`${controller.url}/edge/v1/sessions/${sessionId}/ws?token=${token}`);
  expect(replay.status).toBe(401);
  const unknown = await fetch(`${controller.url}/edge/v1/sessions/nope/ws?token=${token}`);
  expect(unknown.status).toBe(404);

  // A newer session of the same runner replaces this one with 4409.
  const next = (await (await createSession(good)).json()) as { sessionId: string; token: string };
  await until(client.closeCode, "close code");
  expect(client.closeCode()).toBe(4409);
  const second = openWs(next.sessionId, next.token);
  await second.opened;
  controller.runners.deregister("r1");
  await until(second.closeCode, "close code");
  expect(second.closeCode()).toBe(4401);
  apiKey = (await controller.registerRunner({ id: "r1" })).apiKey;
});

test("long-poll: garbage messages get error frames; tokens, 409 and 404 per docs/protocol.md", async () => {
  const { sessionId, token } = (await (await createSession({ ...good, transport: "poll" })).json()) as { sessionId: string; token: string };
  const base = `${controller.url}/edge/v1/sessions/${sessionId}`;
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const before = controller.core.counters.protocolErrors;
  const send = await fetch(`${base}/send`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ messages: ["not json", [1], 42, { v: 1, type: "credit", slots: -1 }, { v: 1, type: "heartbeat", leases: [{ jobId: "x" }] }, { v: 1, type: "credit", slots: 0 }] }),
  });
  expect(send.status).toBe(202);
  expect(controller.core.counters.protocolErrors - before).toBe(5);
  const received = (await (await fetch(`${base}/receive?waitMs=0`, { headers: auth })).json()) as { messages: ControllerMessage[] };
  expect(received.messages.map((m) => m.type)).toEqual(["error", "error", "error", "error", "error"]);

  expect((await fetch(`${base}/send`, { method: "POST", headers: auth, body: '{"messages":7}' })).status).toBe(400);
  expect((await fetch(`${base}/receive?waitMs=0`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  expect((await fetch(`${controller.url}/edge/v1/sessions/nope/receive`, { headers: auth })).status).toBe(404);

  const pending = fetch(`${base}/receive?waitMs=2000`, { headers: auth });
  await until(() => (controller.core.sessions.get(sessionId)?.receiving ? true : undefined), "receive outstanding");
  expect((await fetch(`${base}/receive?waitMs=0`, { headers: auth })).status).toBe(409);
  // A message wakes the outstanding receive at once.
  await fetch(`${base}/send`, { method: "POST", headers: auth, body: JSON.stringify({ messages: [{ v: 1, type: "heartbeat", leases: [] }] }) });
  const woke = (await (await pending).json()) as { messages: ControllerMessage[] };
  expect(woke.messages[0]?.type).toBe("heartbeat_ack");

  expect((await fetch(base, { method: "DELETE", headers: auth })).status).toBe(200);
  expect((await fetch(`${base}/receive?waitMs=0`, { headers: auth })).status).toBe(404);
});
