// The WebSocket relay's bounds, without ports (session-relay.ts): a stand-in owner socket and a
// stand-in runner socket whose send queues the test sets. Neither direction queues past
// RELAY_MAX_QUEUED_BYTES: where a socket can pause, the relay stops reading the side that fills a
// queue until it drains; where it cannot (these stand-ins without pause(), as on Deno), a side
// that does not read is given up with 1013 on both sides, as is an
// owner that sends more before the runner's upgrade completes; a frame over the message cap is
// closed with 1009. Real sockets, across replicas and runtimes: session-forwarding*.test.ts. And
// health's count of every replica's sessions, which gives up on a database that does not answer.

import { expect, test } from "bun:test";
import { Hono } from "hono";
import type { WSContext, WSEvents } from "hono/ws";
import { memoryLogger } from "../../src/log/logger.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../../src/platform/http-server.ts";
import { SessionDirectory } from "../../src/reference-controller/session-directory.ts";
import { FORWARDED_HEADER } from "../../src/reference-controller/session-forward.ts";
import { RELAY_DRAIN_CHECK_MS, RELAY_MAX_QUEUED_BYTES, RELAY_PAUSE_BYTES, RELAY_RESUME_BYTES, SessionRelays } from "../../src/reference-controller/session-relay.ts";
import { realTimers } from "../../src/util/time.ts";
import { oneRowDirectory } from "./one-row-directory.ts";

const TOKEN = "the-session-token";

/** A client socket to the owner that the test opens, feeds and reads. */
class StandInOwner {
  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  readonly sent: string[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | undefined;
  headers: Record<string, string> = {};
  url = "";
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
}

/** The runner's side of the upgrade, with the send queue the test sets. */
function standInRunner() {
  const runner = { sent: [] as string[], buffered: 0, closedWith: undefined as { code: number | undefined; reason: string | undefined } | undefined };
  const ws = {
    raw: { getBufferedAmount: () => runner.buffered },
    readyState: 1,
    send: (data: string) => runner.sent.push(data),
    close: (code?: number, reason?: string) => (runner.closedWith = { code, reason }),
  } as unknown as WSContext;
  return { runner, ws };
}

/** A relay of session "s1" (held by replica "a") opened through a Hono route, its owner socket open. */
async function openRelay(relays: SessionRelays, owners: StandInOwner[]): Promise<{ events: WSEvents; owner: StandInOwner }> {
  const app = new Hono();
  let events: WSEvents | undefined;
  app.get("/edge/v1/sessions/:id/ws", async (c) => {
    const attached = await relays.attach(c, c.req.param("id"));
    if (attached === undefined || attached instanceof Response) return c.text("refused", 404);
    events = attached;
    return c.text("upgraded");
  });
  const answer = await app.request(`http://b.test/edge/v1/sessions/s1/ws?token=${TOKEN}`, { headers: { upgrade: "websocket" } });
  expect(await answer.text()).toBe("upgraded");
  return { events: events as WSEvents, owner: owners.at(-1) as StandInOwner };
}

function relaysOverOneRow() {
  const directory = oneRowDirectory("http://a.test:8780", TOKEN);
  const owners: StandInOwner[] = [];
  const relays = new SessionRelays({
    directory,
    logger: memoryLogger().logger,
    timer: realTimers,
    connect: (url, headers) => {
      const owner = new StandInOwner();
      owner.url = url;
      owner.headers = headers;
      owners.push(owner);
      queueMicrotask(() => {
        owner.readyState = 1;
        owner.onopen?.();
      });
      return owner as unknown as WebSocket;
    },
  });
  return { relays, owners };
}

test("the hop goes to the row's advertised URL with the same path and query and the forwarded header", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { owner } = await openRelay(relays, owners);
  expect(owner.url).toBe(`ws://a.test:8780/edge/v1/sessions/s1/ws?token=${TOKEN}`);
  expect(owner.headers).toEqual({ [FORWARDED_HEADER]: "b" });
  relays.closeAll(1001, "controller stopping");
  expect(owner.closedWith).toEqual({ code: 1001, reason: "controller stopping" });
  expect(relays.size).toBe(0);
});

test("a runner that does not read: the relay passes frames while its queue is under the bound, then closes both sides with 1013", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { events, owner } = await openRelay(relays, owners);
  const { runner, ws } = standInRunner();
  events.onOpen?.(new Event("open"), ws);
  owner.onmessage?.({ data: "offer 1" });
  expect(runner.sent).toEqual(["offer 1"]);
  runner.buffered = RELAY_MAX_QUEUED_BYTES - 4;
  owner.onmessage?.({ data: "offer 2" });
  expect(runner.sent).toEqual(["offer 1"]);
  expect(runner.closedWith?.code).toBe(1013);
  expect(owner.closedWith?.code).toBe(1013);
  expect(relays.size).toBe(0);
});

test("a slow runner where sockets can pause (Bun, ws on Node): reading the owner stops past RELAY_PAUSE_BYTES and starts again once the runner's queue drained, every frame passed on in order, nothing closed", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { events, owner } = await openRelay(relays, owners);
  const paused: boolean[] = [];
  Object.assign(owner, { pause: () => paused.push(true), resume: () => paused.push(false) });
  const { runner, ws } = standInRunner();
  events.onOpen?.(new Event("open"), ws);
  owner.onmessage?.({ data: "offer 1" });
  runner.buffered = RELAY_PAUSE_BYTES + 1;
  owner.onmessage?.({ data: "offer 2" });
  expect(paused).toEqual([true]);
  // A frame read before the pause took effect still goes through.
  owner.onmessage?.({ data: "offer 3" });
  runner.buffered = RELAY_RESUME_BYTES + 1;
  await Bun.sleep(RELAY_DRAIN_CHECK_MS * 5);
  expect(paused).toEqual([true]);
  runner.buffered = RELAY_RESUME_BYTES;
  await Bun.sleep(RELAY_DRAIN_CHECK_MS * 5);
  expect(paused).toEqual([true, false]);
  owner.onmessage?.({ data: "offer 4" });
  expect(runner.sent).toEqual(["offer 1", "offer 2", "offer 3", "offer 4"]);
  expect(runner.closedWith).toBeUndefined();
  expect(owner.closedWith).toBeUndefined();
  // Bun's drain event resumes at once, without waiting for the next check.
  runner.buffered = RELAY_PAUSE_BYTES + 1;
  owner.onmessage?.({ data: "offer 5" });
  runner.buffered = 0;
  (events as { onDrain?: () => void }).onDrain?.();
  expect(paused).toEqual([true, false, true, false]);
  relays.closeAll(1001, "done");
});

test("a slow owner where sockets can pause: reading the runner's socket stops past RELAY_PAUSE_BYTES and starts again once the owner's queue drained", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { events, owner } = await openRelay(relays, owners);
  const paused: boolean[] = [];
  const { runner, ws } = standInRunner();
  Object.assign(ws.raw as object, { pause: () => paused.push(true), resume: () => paused.push(false) });
  events.onOpen?.(new Event("open"), ws);
  events.onMessage?.(new MessageEvent("message", { data: "credit" }), ws);
  owner.bufferedAmount = RELAY_PAUSE_BYTES + 1;
  events.onMessage?.(new MessageEvent("message", { data: "result" }), ws);
  expect(paused).toEqual([true]);
  owner.bufferedAmount = 0;
  await Bun.sleep(RELAY_DRAIN_CHECK_MS * 5);
  expect(paused).toEqual([true, false]);
  events.onMessage?.(new MessageEvent("message", { data: "heartbeat" }), ws);
  expect(owner.sent).toEqual(["credit", "result", "heartbeat"]);
  expect(owner.closedWith).toBeUndefined();
  expect(runner.closedWith).toBeUndefined();
  relays.closeAll(1001, "done");
});

test("an owner that does not read: the runner's frames past the bound close both sides with 1013", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { events, owner } = await openRelay(relays, owners);
  const { runner, ws } = standInRunner();
  events.onOpen?.(new Event("open"), ws);
  events.onMessage?.(new MessageEvent("message", { data: "credit" }), ws);
  expect(owner.sent).toEqual(["credit"]);
  owner.bufferedAmount = RELAY_MAX_QUEUED_BYTES;
  events.onMessage?.(new MessageEvent("message", { data: "result" }), ws);
  expect(owner.sent).toEqual(["credit"]);
  expect(owner.closedWith?.code).toBe(1013);
  expect(runner.closedWith?.code).toBe(1013);
});

test("what the owner sends before the runner's upgrade completes is held up to the bound, passed on in order, and past it both sides close with 1013", async () => {
  const { relays, owners } = relaysOverOneRow();
  const first = await openRelay(relays, owners);
  first.owner.onmessage?.({ data: "early 1" });
  first.owner.onmessage?.({ data: "early 2" });
  const held = standInRunner();
  first.events.onOpen?.(new Event("open"), held.ws);
  expect(held.runner.sent).toEqual(["early 1", "early 2"]);

  const second = await openRelay(relays, owners);
  const chunk = "x".repeat(MAX_WEBSOCKET_MESSAGE_BYTES / 2);
  for (let sent = 0; sent <= RELAY_MAX_QUEUED_BYTES; sent += chunk.length) second.owner.onmessage?.({ data: chunk });
  expect(second.owner.closedWith?.code).toBe(1013);
  const late = standInRunner();
  second.events.onOpen?.(new Event("open"), late.ws);
  expect(late.runner.sent).toEqual([]);
  expect(late.runner.closedWith?.code).toBe(1013);
});

test("a frame over the WebSocket message cap, either way, closes both sides with 1009", async () => {
  const { relays, owners } = relaysOverOneRow();
  const { events, owner } = await openRelay(relays, owners);
  const { runner, ws } = standInRunner();
  events.onOpen?.(new Event("open"), ws);
  owner.onmessage?.({ data: new ArrayBuffer(MAX_WEBSOCKET_MESSAGE_BYTES + 1) });
  expect(runner.sent).toEqual([]);
  expect(runner.closedWith?.code).toBe(1009);
  expect(owner.closedWith?.code).toBe(1009);

  const other = await openRelay(relays, owners);
  const second = standInRunner();
  other.events.onOpen?.(new Event("open"), second.ws);
  other.events.onMessage?.(new MessageEvent("message", { data: new ArrayBuffer(MAX_WEBSOCKET_MESSAGE_BYTES + 1) }), second.ws);
  expect(other.owner.sent).toEqual([]);
  expect(other.owner.closedWith?.code).toBe(1009);
  expect(second.runner.closedWith?.code).toBe(1009);
});

test("the count of every replica's live sessions (health) is undefined when the database does not answer in time, or fails", async () => {
  const directory = (live: () => Promise<never[]>) =>
    new SessionDirectory({
      rows: { replicaId: "b", put: () => {}, remove: () => {}, find: async () => undefined, live, heartbeat: async () => {} },
      timer: realTimers,
      logger: memoryLogger().logger,
      expiryMs: 60_000,
      advertiseUrl: () => "http://b.test:8780",
    });
  expect(await directory(() => new Promise<never[]>(() => {})).liveCount(50)).toBeUndefined();
  expect(await directory(() => Promise.reject(new Error("connection refused"))).liveCount(50)).toBeUndefined();
  expect(await directory(async () => [] as never[]).liveCount(50)).toBe(0);
});
