// Pacing against liveness, on a controller (or proxy) that answers every long-poll receive at once
// with nothing: the pacing waits grow to 5 s, and liveness probes after 5 s of silence and gives
// up 5 s later. A probe sent just as a long pacing wait began had its ack received only after
// that wait, at (or after) the give-up check, so such a session was dropped. A send the controller
// took now ends the wait and starts the waits again from the floor; but the receive never leaves
// sooner than the floor after the wait began, or a runner sending every few ms polls at its send rate.

import { afterEach, expect, test } from "bun:test";
import { openPollTransport } from "../../src/controller/edge/poll-transport.ts";
import { IDLE_RECEIVE_MIN_MS } from "../../src/controller/edge/poll-pacing.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { eventually } from "../helpers/harness.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Fake {
  url: string;
  /** When each receive arrived, and when each send was answered. */
  receives: number[];
  sends: Array<{ at: number; messages: Array<{ type?: string }> }>;
  /** Resolves when the n-th receive arrives. */
  receiveNumber(n: number): Promise<void>;
}

/** Answers every receive at once: with the acks of heartbeats sent since, or with nothing. */
function instantController(): Fake {
  const waiting = new Map<number, () => void>();
  const queued: unknown[] = [];
  const fake: Fake = {
    url: "",
    receives: [],
    sends: [],
    receiveNumber: (n) => (fake.receives.length >= n ? Promise.resolve() : new Promise((r) => waiting.set(n, r))),
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/edge/v1/sessions") return Response.json({ v: 1, sessionId: "s1", token: "t1", heartbeatIntervalMs: 60_000, leaseTtlMs: 300_000, pollWaitMs: 25_000 }, { status: 201 });
      if (path.endsWith("/receive")) {
        fake.receives.push(Date.now());
        waiting.get(fake.receives.length)?.();
        return Response.json({ messages: queued.splice(0) });
      }
      if (path.endsWith("/send")) {
        const messages = ((await req.json()) as { messages: Array<{ type?: string }> }).messages;
        for (const m of messages) if (m.type === "heartbeat") queued.push({ v: 1, type: "heartbeat_ack", leases: [] });
        fake.sends.push({ at: Date.now(), messages });
        return new Response(null, { status: 204 });
      }
      return new Response(null, { status: 204 });
    },
  });
  cleanups.push(() => server.stop(true));
  fake.url = `http://127.0.0.1:${server.port}`;
  return fake;
}

test("a send the controller took ends the long-poll pacing wait: the next receive leaves at once, and the waits start again from the floor", async () => {
  const fake = instantController();
  const transport = await openPollTransport({ baseUrl: fake.url, client: { fetch: (u, i) => fetch(u, i), openWebSocket: () => { throw new Error("not here"); } }, sessionId: "s1", token: "t1", pollWaitMs: 25_000, attachTimeoutMs: 30_000, onFrame: () => true });
  cleanups.push(() => transport.close());
  // Receives 2..6 are answered empty at once: after the 6th the loop waits 1,600 ms.
  await fake.receiveNumber(6);
  transport.send([{ v: 1, type: "heartbeat", leases: [] }]);
  await fake.receiveNumber(8);
  const sentAt = fake.sends[0]!.at;
  // At once after the send (it was 1,600 ms), and the next one 100 ms later (it was 3,200 ms).
  expect(fake.receives[6]! - sentAt).toBeLessThan(500);
  expect(fake.receives[7]! - fake.receives[6]!).toBeLessThan(500);
});

test("a long-poll session against a controller that answers every receive at once stays connected through its liveness probes", async () => {
  const fake = instantController();
  const { logger } = memoryLogger("debug");
  // Probe after 1.5 s, give up after 2.5 s: the pacing reaches a 1.6 s and then a 3.2 s wait
  // within that, as its 5 s ceiling does against the default 5 s and 10 s.
  const connection = new EdgeConnection({
    controllerUrl: fake.url, runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "poll",
    reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, livenessProbeMs: 1_500, livenessTimeoutMs: 2_500,
  });
  const left: string[] = [];
  connection.onStateChange((s) => {
    if (s.state !== "connected" && s.state !== "connecting") left.push(`${s.state}: ${s.lastError ?? ""}`);
  });
  const stop = new AbortController();
  cleanups.push(() => stop.abort());
  void connection.run({ signal: stop.signal, onJob: () => {} });
  // Four liveness probes (the session's own heartbeats come every 60 s+): each answered in time.
  const heartbeats = () => fake.sends.flatMap((s) => s.messages).filter((m) => m.type === "heartbeat").length;
  await eventually(() => (heartbeats() >= 5 ? true : undefined), 15_000);
  expect(left).toEqual([]);
  expect(connection.status().state).toBe("connected");
}, 20_000);

test("a runner sending every 10 ms to a controller that answers every receive at once with nothing polls no faster than the pacing floor", async () => {
  const fake = instantController();
  const transport = await openPollTransport({ baseUrl: fake.url, client: { fetch: (u, i) => fetch(u, i), openWebSocket: () => { throw new Error("not here"); } }, sessionId: "s1", token: "t1", pollWaitMs: 25_000, attachTimeoutMs: 30_000, onFrame: () => true });
  cleanups.push(() => transport.close());
  // A job's log lines, sent as they come (no heartbeat: nothing for the controller to answer).
  const sending = setInterval(() => transport.send([{ v: 1, type: "log", jobId: "j", attempt: 1, seq: fake.sends.length + 1, lines: [] }]), 10);
  cleanups.push(() => clearInterval(sending));
  const before = fake.receives.length;
  // A window of time is what is measured here: how many receives leave in it.
  await Bun.sleep(2000);
  clearInterval(sending);
  const receives = fake.receives.length - before;
  // Each send ended the pacing wait and the next receive left at once: one receive per send (~200).
  // At most one per IDLE_RECEIVE_MIN_MS (100 ms) now: 20 in 2 s, and a little slack.
  expect(fake.sends.length).toBeGreaterThan(50);
  expect(receives).toBeLessThanOrEqual(2000 / IDLE_RECEIVE_MIN_MS + 3);
  expect(receives).toBeGreaterThanOrEqual(5);
});
