// The WebSocket relay between replicas under backpressure, with real sockets on Bun: the replica
// holding the session (a Bun server that honours its own send backpressure) and the relaying
// replica (serveHttp + SessionRelays, as the controller wires them) on loopback ports. A runner
// that stops reading while the owner sends 40 MiB, and an owner that stops reading while the
// runner does, get every frame, in order, and the relay stays open: it pauses reading the fast
// side instead of closing with 1013 once a queue passes RELAY_MAX_QUEUED_BYTES.

import { afterEach, expect, test } from "bun:test";
import { Hono } from "hono";
import type { WSEvents } from "hono/ws";
import { memoryLogger } from "../../src/log/logger.ts";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../../src/platform/http-server.ts";
import { RELAY_MAX_QUEUED_BYTES, SessionRelays } from "../../src/reference-controller/session-relay.ts";
import { realTimers } from "../../src/util/time.ts";
import { eventually } from "../helpers/harness.ts";
import { oneRowDirectory } from "./one-row-directory.ts";

const TOKEN = "relay-backpressure-token";
const FRAME = 256 * 1024;
const FRAMES = 160; // 40 MiB, five times the relay's hard bound
const STALL_MS = 1500;

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

const frame = (i: number): string => `${i}|`.padEnd(FRAME, "x");
const numbers = (frames: string[]): number[] => frames.map((f) => Number(f.slice(0, f.indexOf("|"))));
const sequence = Array.from({ length: FRAMES }, (_, i) => i);

type OwnerSocket = { send(data: string): number; pause(): void; resume(): void; close(code?: number): void };

/** The replica holding the session: floods the runner (sending only while its own queue has room), or stalls reading the runner's flood. */
function ownerReplica(mode: "flood" | "stall") {
  const got: string[] = [];
  let drained: (() => void) | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, srv) => (srv.upgrade(request) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      maxPayloadLength: 8 * 1024 * 1024,
      async open(ws) {
        const socket = ws as unknown as OwnerSocket;
        if (mode === "stall") {
          socket.pause();
          setTimeout(() => socket.resume(), STALL_MS);
          return;
        }
        for (let i = 0; i < FRAMES; i++) {
          if (socket.send(frame(i)) === -1) await new Promise<void>((resolve) => (drained = resolve));
        }
      },
      drain() {
        drained?.();
      },
      message(_ws, data) {
        got.push(String(data));
      },
    },
  });
  stops.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, got };
}

/** The relaying replica: every attach of session "s1" is relayed to `ownerUrl`. */
async function relayReplica(ownerUrl: string): Promise<{ server: HttpServer }> {
  const directory = oneRowDirectory(ownerUrl, TOKEN);
  const relays = new SessionRelays({ directory, logger: memoryLogger().logger, timer: realTimers });
  const app = new Hono();
  app.get(
    "/edge/v1/sessions/:id/ws",
    async (c, next) => {
      const relayed = await relays.attach(c, c.req.param("id"));
      if (relayed === undefined || relayed instanceof Response) return c.text("refused", 404);
      c.set("relay" as never, relayed as never);
      return next();
    },
    upgradeWebSocket((c) => c.get("relay" as never) as WSEvents),
  );
  const server = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
  stops.push(() => server.close(), () => relays.closeAll(1001, "test over"));
  return { server };
}

type RunnerSocket = WebSocket & { pause(): boolean; resume(): boolean };

async function runnerThrough(relay: HttpServer): Promise<{ ws: RunnerSocket; got: string[]; closed: () => number | undefined }> {
  const ws = new WebSocket(`${relay.url.replace(/^http/, "ws")}/edge/v1/sessions/s1/ws?token=${TOKEN}`) as RunnerSocket;
  const got: string[] = [];
  let closed: number | undefined;
  ws.onmessage = (event) => got.push(String(event.data));
  ws.onclose = (event) => (closed = event.code);
  stops.push(() => ws.close());
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("the attach through the relay failed"));
  });
  return { ws, got, closed: () => closed };
}

test("a runner that stops reading while the owner sends 40 MiB through the relay gets every frame in order, and the relay stays open", async () => {
  const owner = ownerReplica("flood");
  const { server } = await relayReplica(owner.url);
  const runner = await runnerThrough(server);
  runner.ws.pause();
  await Bun.sleep(STALL_MS);
  // Far more than the relay may queue was sent while the runner read nothing: it waits upstream, not in the relay.
  expect(FRAMES * FRAME).toBeGreaterThan(RELAY_MAX_QUEUED_BYTES * 4);
  expect(runner.closed()).toBeUndefined();
  runner.ws.resume();
  await eventually(() => (runner.got.length >= FRAMES || runner.closed() !== undefined ? true : undefined), 60_000, "every frame");
  expect(runner.closed()).toBeUndefined();
  expect(numbers(runner.got)).toEqual(sequence);
  expect(runner.got.every((f) => f.length === FRAME)).toBe(true);
}, 90_000);

test("an owner that stops reading while the runner sends 40 MiB through the relay gets every frame in order, and the relay stays open", async () => {
  const owner = ownerReplica("stall");
  const { server } = await relayReplica(owner.url);
  const runner = await runnerThrough(server);
  for (let i = 0; i < FRAMES; i++) runner.ws.send(frame(i));
  await eventually(() => (owner.got.length >= FRAMES || runner.closed() !== undefined ? true : undefined), 60_000, "every frame at the owner");
  expect(runner.closed()).toBeUndefined();
  expect(numbers(owner.got)).toEqual(sequence);
}, 90_000);
