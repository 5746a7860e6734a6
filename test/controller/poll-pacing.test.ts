// The long-poll receive loop against something that answers every receive at once: an empty list
// or a malformed body must not make it a busy loop (it was 24,873 receives in 2 s, a full core),
// a malformed body is answered with error frames only as often as it is logged and never counts
// as hearing from the controller; a receive that brings messages is still followed at once.

import { afterEach, expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { IDLE_RECEIVE_MAX_MS, IDLE_RECEIVE_MIN_MS, PollPacing } from "../../src/controller/edge/poll-pacing.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Fake {
  /** The answer to the n-th receive (1 is the attach's probe). */
  receive: (n: number) => Response | Promise<Response>;
  receives: number[];
  sends: unknown[];
}

function fakeController(fake: Fake): string {
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/edge/v1/sessions") return Response.json({ v: 1, sessionId: "s1", token: "t1", heartbeatIntervalMs: 60_000, leaseTtlMs: 120_000, pollWaitMs: 25_000 }, { status: 201 });
      if (path.endsWith("/receive")) {
        fake.receives.push(Date.now());
        return fake.receive(fake.receives.length);
      }
      if (path.endsWith("/send")) {
        fake.sends.push(...((await req.json()) as { messages: unknown[] }).messages);
        return new Response(null, { status: 204 });
      }
      return new Response(null, { status: 204 });
    },
  });
  cleanups.push(() => server.stop(true));
  return `http://127.0.0.1:${server.port}`;
}

function connect(url: string, liveness: { livenessProbeMs?: number; livenessTimeoutMs?: number } = {}) {
  const { logger, records } = memoryLogger("debug");
  const connection = new EdgeConnection({
    controllerUrl: url, runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "poll",
    reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, ...liveness,
  });
  const stop = new AbortController();
  cleanups.push(() => stop.abort());
  void connection.run({ signal: stop.signal, onJob: () => {} });
  return { connection, records };
}

const errorFrames = (fake: Fake) => fake.sends.filter((m) => (m as { type?: string }).type === "error").length;

for (const [name, body] of [["an empty list", { messages: [] }], ["a malformed body ({})", {}], ["malformed messages only ([{}])", { messages: [{}] }], ["messages of an unknown type only", { messages: [{ v: 1, type: "brand_new_thing" }] }]] as const) {
  test(`the long-poll loop backs off from a controller that answers every receive at once with ${name}`, async () => {
    const fake: Fake = { receive: () => Response.json(body), receives: [], sends: [] };
    const { connection } = connect(fakeController(fake));
    await eventually(() => (connection.status().state === "connected" ? true : undefined));
    const before = fake.receives.length;
    // A window of time is what is measured here: how many receives leave in it.
    await Bun.sleep(2000);
    const receives = fake.receives.length - before;
    // 100, 200, 400, 800 ms apart: 4 or 5 (was thousands).
    expect(receives).toBeLessThan(20);
    expect(receives).toBeGreaterThanOrEqual(2);
    // Error frames for malformed answers: as often as the warning is logged (5 a minute), not one
    // each; for malformed messages one each, at the receives' pace.
    expect(errorFrames(fake)).toBeLessThanOrEqual(6);
  });
}

test("a long-poll session of nothing but malformed answers is ended by liveness (they do not count as hearing the controller)", async () => {
  const fake: Fake = { receive: () => Response.json({}), receives: [], sends: [] };
  const { connection, records } = connect(fakeController(fake), { livenessProbeMs: 300, livenessTimeoutMs: 800 });
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  await eventually(() => (connection.status().state !== "connected" ? true : undefined), 5_000);
  expect(connection.status().lastError).toContain("did not answer");
  expect(records.some((r) => r.msg.includes('Rejected a long-poll answer from the controller: Malformed answer: a long-poll answer that is an object without a "messages" list'))).toBe(true);
});

test("a long-poll receive that brought messages is followed at once", async () => {
  const ack = { v: 1, type: "heartbeat_ack", leases: [] };
  let answeredAt = 0;
  const fake: Fake = {
    receives: [],
    sends: [],
    receive: (n) => {
      // The second receive (the first of the loop) brings a message; the third is held.
      if (n === 2) {
        answeredAt = Date.now();
        return Response.json({ messages: [ack] });
      }
      return n === 1 ? Response.json({ messages: [] }) : new Promise<Response>((r) => setTimeout(() => r(Response.json({ messages: [] })), 1500));
    },
  };
  const { connection } = connect(fakeController(fake));
  await eventually(() => (fake.receives.length >= 3 ? true : undefined));
  expect(fake.receives[2]! - answeredAt).toBeLessThan(100);
  expect(connection.status().state).toBe("connected");
});

test("PollPacing waits after early empty or malformed answers, doubling to its ceiling, and not after messages or a held answer", () => {
  const pacing = new PollPacing(25_000);
  const early = { tookMs: 3, messages: 0, malformed: false };
  const waits = Array.from({ length: 8 }, () => pacing.next(early));
  expect(waits).toEqual([IDLE_RECEIVE_MIN_MS, 200, 400, 800, 1600, 3200, IDLE_RECEIVE_MAX_MS, IDLE_RECEIVE_MAX_MS]);
  expect(pacing.next({ tookMs: 3, messages: 1, malformed: false })).toBe(0);
  expect(pacing.next(early)).toBe(IDLE_RECEIVE_MIN_MS);
  // Held for the poll's wait and empty: the normal long-poll, no wait.
  expect(pacing.next({ tookMs: 25_000, messages: 0, malformed: false })).toBe(0);
  // Malformed waits however long it took; a 1 s poll's answer is early under 500 ms.
  expect(pacing.next({ tookMs: 25_000, messages: 0, malformed: true })).toBe(IDLE_RECEIVE_MIN_MS);
  const short = new PollPacing(1_000);
  expect([short.next({ tookMs: 499, messages: 0, malformed: false }), short.next({ tookMs: 1_000, messages: 0, malformed: false })]).toEqual([IDLE_RECEIVE_MIN_MS, 0]);
});
