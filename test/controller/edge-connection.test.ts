// EdgeConnection against a scripted fake controller: what it does with refusals, Retry-After,
// malformed and unknown frames, and lost leases. The real controller is covered in test/runner.

import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { JobHandle } from "../../src/controller/connection.ts";
import { eventually } from "../helpers/harness.ts";

const servers: HttpServer[] = [];
const stops: AbortController[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop.abort();
  for (const server of servers.splice(0)) await server.close();
});

interface Script {
  session?: (attempt: number) => Response | undefined;
  onOpen?: (send: (frame: string) => void, close: () => void) => void;
  received: unknown[];
}

async function fakeController(script: Script): Promise<string> {
  const app = new Hono();
  let attempts = 0;
  app.post("/edge/v1/sessions", () => {
    attempts++;
    return script.session?.(attempts) ?? Response.json({ v: 1, sessionId: "s1", token: "t1", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 1000 }, { status: 201 });
  });
  app.get(
    "/edge/v1/sessions/:id/ws",
    upgradeWebSocket(() => ({
      onOpen(_evt, ws) {
        script.onOpen?.((frame) => ws.send(frame), () => ws.close());
      },
      onMessage(evt) {
        const value = JSON.parse(String(evt.data)) as unknown;
        if (Array.isArray(value)) script.received.push(...value);
        else script.received.push(value);
      },
    })),
  );
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return server.url;
}

function connect(url: string, sleeps: number[] = []) {
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: url, runnerId: "r1", group: "g", apiKey: "secret-api-key-1", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 5000, startJitterMs: 0, logger, random: () => 0.5,
    timers: {
      now: Date.now,
      // Record every wait, but wait only a moment, so backoff decisions are visible without waiting.
      sleep: (ms, signal) => {
        if (ms > 0) sleeps.push(ms);
        return new Promise((r) => { const t = setTimeout(r, Math.min(ms, 5)); signal?.addEventListener("abort", () => { clearTimeout(t); r(); }); });
      },
    },
  });
  const jobs: JobHandle[] = [];
  const stop = new AbortController();
  stops.push(stop);
  connection.setFreeSlots(2);
  const done = connection.run({ signal: stop.signal, onJob: (j) => jobs.push(j) });
  return { connection, jobs, records, stop, done };
}

test("EdgeConnection waits at least Retry-After after a 503", async () => {
  const sleeps: number[] = [];
  const url = await fakeController({
    received: [],
    session: (n) => (n === 1 ? new Response("starting", { status: 503, headers: { "retry-after": "3" } }) : undefined),
  });
  const { connection } = connect(url, sleeps);
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  expect(sleeps[0]).toBe(3000);
});

test("EdgeConnection treats 401 as unauthorized and waits the backoff ceiling", async () => {
  const sleeps: number[] = [];
  const url = await fakeController({ received: [], session: () => Response.json({ error: { code: "unauthorized", message: "no" } }, { status: 401 }) });
  const { connection } = connect(url, sleeps);
  await eventually(() => (connection.status().state === "unauthorized" ? true : undefined));
  await eventually(() => (sleeps.length >= 2 ? true : undefined));
  expect(sleeps.slice(0, 2)).toEqual([5000, 5000]);
  expect(connection.status().lastError).toContain("refused the runner id or API key");
  expect(connection.status().lastError).not.toContain("secret-api-key-1");
});

test("EdgeConnection answers a malformed frame with an error frame, counts it, and keeps going", async () => {
  const script: Script = {
    received: [],
    onOpen(send) {
      send("{not json");
      send(JSON.stringify({ v: 1, type: "offer", job: { id: "j1" } }));
      send(JSON.stringify({ v: 1, type: "teleport", to: "mars" }));
      send(JSON.stringify({ v: 1, type: "offer", job: { id: "j2", attempt: 1, group: "g", plugin: "echo", action: "default", input: 1, leaseExpiresAt: 1, submittedAt: 1 } }));
    },
  };
  const url = await fakeController(script);
  const { connection, jobs, records } = connect(url);
  await eventually(() => (jobs.length === 1 ? true : undefined));
  expect(jobs[0]?.job.id).toBe("j2");
  expect(connection.status().protocolErrors).toBe(2);
  expect(connection.status().state).toBe("connected");
  // The error frames travel back over the socket: wait for them rather than race them.
  const errors = () => script.received.filter((m) => (m as { type: string }).type === "error");
  await eventually(() => (errors().length >= 2 ? true : undefined));
  expect(errors()).toHaveLength(2);
  expect(records.some((r) => r.msg.includes('Unknown message type "teleport"'))).toBe(true);
});

test("EdgeConnection grants credit for free slots and resets it to zero when slots shrink", async () => {
  const script: Script = { received: [] };
  const url = await fakeController(script);
  const { connection } = connect(url);
  await eventually(() => (script.received.some((m) => (m as { type: string }).type === "credit") ? true : undefined));
  connection.setFreeSlots(0);
  await eventually(() => (script.received.some((m) => (m as { reset?: boolean }).reset === true) ? true : undefined));
  const credits = script.received.filter((m) => (m as { type: string }).type === "credit");
  expect(credits).toEqual([{ v: 1, type: "credit", slots: 2 }, { v: 1, type: "credit", slots: 0, reset: true }]);
});

/** A connection that was offered job "j1" at `attempt`; `sendFrame` talks as the controller. */
async function offeredJob(attempt: number) {
  let sendFrame: (f: string) => void = () => {};
  const script: Script = { received: [], onOpen: (send) => (sendFrame = send) };
  const url = await fakeController(script);
  const { jobs } = connect(url);
  await eventually(() => (script.received.length > 0 ? true : undefined));
  sendFrame(JSON.stringify({ v: 1, type: "offer", job: { id: "j1", attempt, group: "g", plugin: "echo", action: "default", input: 1, leaseExpiresAt: 1, submittedAt: 1 } }));
  await eventually(() => (jobs.length === 1 ? true : undefined));
  return { jobs, script, sendFrame: (frame: string) => sendFrame(frame) };
}

test("EdgeConnection aborts a job whose lease the controller refuses, and does not report it", async () => {
  const { jobs, script, sendFrame } = await offeredJob(2);
  sendFrame(JSON.stringify({ v: 1, type: "heartbeat_ack", leases: [{ jobId: "j1", attempt: 2, ok: false, reason: "stale_attempt" }] }));
  await eventually(() => (jobs[0]!.signal.aborted ? true : undefined));
  const answer = await jobs[0]!.complete({ status: "cancelled", startedAt: 1, finishedAt: 2 });
  expect(answer.accepted).toBe(false);
  expect(script.received.some((m) => (m as { type: string }).type === "result")).toBe(false);
});

test("EdgeConnection in auto mode falls back to long-poll when a proxy refuses WebSocket upgrades", async () => {
  const { ReferenceController } = await import("../../src/reference-controller/controller.ts");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dataDir = mkdtempSync(`${tmpdir()}/edge-runner-proxy-`);
  const controller = ReferenceController.create({ dataDir, logger: memoryLogger("error").logger });
  const { apiKey } = await controller.registerRunner({ id: "r1", group: "g" });
  // A proxy in front of the controller that forwards plain HTTP and refuses every upgrade.
  const proxy = new Hono().all("*", (c) =>
    c.req.header("upgrade") !== undefined ? c.text("upgrades are not allowed here", 403) : controller.app.fetch(c.req.raw),
  );
  const server = await serveHttp(proxy, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: server.url, runnerId: "r1", group: "g", apiKey, version: "t", transport: "auto",
    reconnectMinMs: 10, reconnectMaxMs: 50, startJitterMs: 0, logger,
  });
  const stop = new AbortController();
  stops.push(stop);
  const done = connection.run({ signal: stop.signal, onJob: () => {} });
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  expect(connection.status().transport).toBe("poll");
  expect(records.some((r) => r.msg.includes("falling back to HTTP long-poll"))).toBe(true);
  stop.abort();
  await done;
  await controller.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("EdgeConnection counts failed attempts apart from reconnects, and never calls a connection that never was 'lost'", async () => {
  const closed = await serveHttp(new Hono(), { hostname: "127.0.0.1", port: 0 });
  const url = closed.url;
  await closed.close(); // nothing listens there now: every attempt fails
  const { connection, records } = connect(url);
  await eventually(() => ((connection.status().failedAttempts ?? 0) >= 3 ? true : undefined));
  const status = connection.status();
  expect(status.reconnects).toBe(0);
  expect(status.firstConnectedAt).toBeUndefined();
  // The outage clock starts at the first attempt and does not restart at each retry.
  const firstDown = status.disconnectedSince;
  expect(firstDown).toBeDefined();
  await eventually(() => ((connection.status().failedAttempts ?? 0) >= 5 ? true : undefined));
  expect(connection.status().disconnectedSince).toBe(firstDown as number);
  const messages = records.map((r) => r.msg);
  expect(messages.some((m) => m.startsWith("Cannot connect to the controller (never connected yet): "))).toBe(true);
  expect(messages.some((m) => m.includes("connection lost"))).toBe(false);
});

test("EdgeConnection counts a new session after a lost one as one reconnect, and a first connection as none", async () => {
  let opened = 0;
  const url = await fakeController({
    received: [],
    session: (n) => (n <= 2 ? new Response("starting", { status: 503 }) : undefined),
    // The first session is lost right away; the second stays up.
    onOpen: (_send, close) => {
      if (++opened === 1) setTimeout(close, 20);
    },
  });
  const { connection, records } = connect(url);
  await eventually(() => (connection.status().reconnects === 1 && connection.status().state === "connected" ? true : undefined));
  const status = connection.status();
  expect(status.failedAttempts).toBe(2);
  expect(status.firstConnectedAt).toBeDefined();
  expect(status.disconnectedSince).toBeUndefined();
  expect(records.filter((r) => r.msg.startsWith("Controller connection lost")).length).toBe(1);
});

test("EdgeConnection aborts a cancelled job with the controller's reason said once, not 'cancelled: cancelled by controller: cancelled …'", async () => {
  const { jobs, sendFrame } = await offeredJob(1);
  sendFrame(JSON.stringify({ v: 1, type: "cancel", jobId: "j1", attempt: 1, reason: "an operator asked for it" }));
  await eventually(() => (jobs[0]!.signal.aborted ? true : undefined));
  const reason = String((jobs[0]!.signal.reason as Error | undefined)?.message ?? jobs[0]!.signal.reason);
  expect(reason).toContain("an operator asked for it (via the controller)");
  expect(reason.match(/cancel/gi) ?? []).toEqual([]);
});
