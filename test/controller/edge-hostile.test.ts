// Issue 9 items 4-6: the runner's edge connection against a scripted hostile or broken
// controller. The backoff resets once a session carried traffic (jitter kept); a frozen
// controller is noticed within seconds; every number from the controller is clamped; what it
// sends is logged clipped and rate-limited; per-frame work is bounded.

import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";
import { WarnLimiter } from "../../src/log/warn-limiter.ts";

const servers: HttpServer[] = [];
const stops: AbortController[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop.abort();
  for (const server of servers.splice(0)) await server.close();
});

interface Hostile {
  session?: (n: number) => Response | undefined;
  /** Session answer fields (hostile numbers). */
  values?: Record<string, unknown>;
  onOpen?: (ws: { send(frame: string): void; close(): void }) => void;
  /** Answer each heartbeat with a heartbeat_ack (a live controller); false: a frozen one. */
  answerHeartbeats?: boolean;
  received: Array<{ type: string; at: number }>;
  sessions: number;
}

async function hostileController(script: Hostile): Promise<string> {
  const app = new Hono();
  app.post("/edge/v1/sessions", () => {
    script.sessions++;
    return script.session?.(script.sessions) ?? Response.json({ v: 1, sessionId: `s${script.sessions}`, token: "t", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 1000, ...script.values }, { status: 201 });
  });
  app.get(
    "/edge/v1/sessions/:id/ws",
    upgradeWebSocket(() => ({
      onOpen(_evt, ws) {
        script.onOpen?.({ send: (f) => ws.send(f), close: () => ws.close() });
      },
      onMessage(evt, ws) {
        const value = JSON.parse(String(evt.data)) as unknown;
        for (const m of (Array.isArray(value) ? value : [value]) as Array<{ type: string }>) {
          script.received.push({ type: m.type, at: Date.now() });
          if (m.type === "heartbeat" && script.answerHeartbeats !== false) ws.send(JSON.stringify({ v: 1, type: "heartbeat_ack", leases: [] }));
        }
      },
    })),
  );
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  servers.push(server);
  return server.url;
}

function connect(url: string, extra: { sleeps?: number[]; realSleep?: boolean; livenessProbeMs?: number; livenessTimeoutMs?: number } = {}) {
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: url, runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 5000, startJitterMs: 0, logger, random: () => 0.5,
    ...(extra.livenessProbeMs === undefined ? {} : { livenessProbeMs: extra.livenessProbeMs }),
    ...(extra.livenessTimeoutMs === undefined ? {} : { livenessTimeoutMs: extra.livenessTimeoutMs }),
    timers: {
      now: Date.now,
      // Records every wait; waits for real only where the test needs time to pass (heartbeats).
      sleep: (ms, signal) => {
        if (ms > 0) extra.sleeps?.push(ms);
        const wait = extra.realSleep === true ? Math.min(ms, 2_147_483_647) : Math.min(ms, 5);
        return new Promise((r) => { const t = setTimeout(r, wait); signal?.addEventListener("abort", () => { clearTimeout(t); r(); }); });
      },
    },
  });
  const stop = new AbortController();
  stops.push(stop);
  connection.setFreeSlots(1);
  void connection.run({ signal: stop.signal, onJob: () => {} });
  return { connection, records, stop };
}

test("EdgeConnection resets its backoff once a session carried traffic, keeping the jitter", async () => {
  // Every session answers one frame and is then closed: a controller restarting again and again.
  const script: Hostile = { received: [], sessions: 0, onOpen: (ws) => { ws.send(JSON.stringify({ v: 1, type: "heartbeat_ack", leases: [] })); setTimeout(() => ws.close(), 20); } };
  const url = await hostileController(script);
  const { records } = connect(url);
  const waits = () => records.map((r) => /next attempt in (\d+) ms/.exec(r.msg)?.[1]).filter((w) => w !== undefined).map(Number);
  await eventually(() => (waits().length >= 6 ? true : undefined));
  // Jitter below the floor each time (random 0.5 of 100 ms), never the doubling ceiling
  // (before: 50, 100, 200, 400, 800, 1600 ms, up to ~50 s after a few restarts with the defaults).
  expect(waits().slice(0, 6)).toEqual([50, 50, 50, 50, 50, 50]);
});

test("EdgeConnection notices a frozen controller within seconds and shows it", async () => {
  const script: Hostile = { received: [], sessions: 0, answerHeartbeats: false };
  const url = await hostileController(script);
  const { connection } = connect(url, { realSleep: true, livenessProbeMs: 300, livenessTimeoutMs: 800 });
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  const frozenAt = Date.now();
  await eventually(() => (connection.status().state !== "connected" ? true : undefined), 10_000);
  expect(Date.now() - frozenAt).toBeLessThan(5_000);
  expect(connection.status().lastError).toContain("did not answer");
  // It probed with a heartbeat before giving up.
  expect(script.received.filter((m) => m.type === "heartbeat").length).toBeGreaterThanOrEqual(2);
});

test("EdgeConnection stays connected to a quiet but live controller (heartbeats answered)", async () => {
  const script: Hostile = { received: [], sessions: 0 };
  const url = await hostileController(script);
  const { connection, records } = connect(url, { realSleep: true, livenessProbeMs: 200, livenessTimeoutMs: 500 });
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  await Bun.sleep(1500);
  expect(connection.status().state).toBe("connected");
  expect(script.sessions, JSON.stringify(script.received)).toBe(1);
});

for (const hostile of [0, -1, "x", 1e12, null]) {
  test(`EdgeConnection clamps heartbeatIntervalMs ${JSON.stringify(hostile)} into its range (no heartbeat storm)`, async () => {
    const script: Hostile = { received: [], sessions: 0, values: { heartbeatIntervalMs: hostile, leaseTtlMs: hostile, pollWaitMs: hostile } };
    const url = await hostileController(script);
    const sleeps: number[] = [];
    const { connection, records } = connect(url, { sleeps, realSleep: true });
    await eventually(() => (connection.status().state === "connected" ? true : undefined));
    await Bun.sleep(1500);
    const heartbeats = script.received.filter((m) => m.type === "heartbeat").length;
    // The first one on session start, then at most one a second (the floor): was 700-850 a second.
    expect(heartbeats).toBeLessThanOrEqual(3);
    expect(sleeps.every((ms) => Number.isFinite(ms) && ms >= 0 && ms <= 300_000)).toBe(true);
    expect(records.some((r) => r.msg.includes("out of range"))).toBe(true);
  });
}

test("EdgeConnection clamps Retry-After to its reconnect ceiling (no hour-long park, no overflowing timer)", async () => {
  for (const retryAfter of ["99999999", "3600"]) {
    const script: Hostile = { received: [], sessions: 0, session: (n) => (n <= 3 ? new Response("busy", { status: 503, headers: { "retry-after": retryAfter } }) : undefined) };
    const url = await hostileController(script);
    const sleeps: number[] = [];
    const { connection, stop } = connect(url, { sleeps });
    await eventually(() => (connection.status().state === "connected" ? true : undefined));
    expect(sleeps.slice(0, 3)).toEqual([5000, 5000, 5000]);
    stop.abort();
  }
});

test("EdgeConnection logs a flood of hostile frames clipped and rate-limited, with a count of what it suppressed", async () => {
  const huge = "E".repeat(256 * 1024);
  const script: Hostile = {
    received: [], sessions: 0,
    onOpen: (ws) => {
      void (async () => {
        // Paced, so the server's own send buffer never drops a frame.
        for (let i = 0; i < 200; i++) {
          ws.send(JSON.stringify({ v: 1, type: "error", error: { code: `c${i}`, message: huge } }));
          ws.send(JSON.stringify({ v: 1, type: `unknown-${i}-${"u".repeat(1000)}` }));
          ws.send(`{garbage ${i} ${"g".repeat(10_000)}`);
          ws.send(JSON.stringify({ v: 1, type: "cancel", jobId: `nope-${i}`, attempt: 1, reason: huge }));
          await Bun.sleep(2);
        }
        ws.send(JSON.stringify({ v: 1, type: "heartbeat_ack", leases: Array.from({ length: 10_000 }, () => ({ jobId: "j", attempt: 1, ok: false, reason: huge.slice(0, 1000) })) }));
      })();
    },
  };
  const url = await hostileController(script);
  const { connection, records } = connect(url);
  await eventually(() => (connection.status().protocolErrors >= 400 ? true : undefined), 25_000);
  const bytes = records.reduce((n, r) => n + JSON.stringify(r).length, 0);
  // 800 hostile frames carrying over 100 MiB of text: a few dozen short lines.
  expect(records.length).toBeLessThan(60);
  expect(bytes).toBeLessThan(64 * 1024);
  expect(records.every((r) => r.msg.length < 1200)).toBe(true);
  expect(connection.status().state).toBe("connected");
}, 30_000);

test("WarnLimiter logs a burst per key and window, then reports how many it suppressed", () => {
  let now = 0;
  const limiter = new WarnLimiter({ burst: 2, windowMs: 1000, now: () => now });
  expect([limiter.allow("a"), limiter.allow("a"), limiter.allow("a"), limiter.allow("a")].map((d) => d.log)).toEqual([true, true, false, false]);
  now = 1000;
  expect(limiter.allow("a")).toEqual({ log: true, suppressed: 2 });
  expect(limiter.allow("b").log).toBe(true);
});
