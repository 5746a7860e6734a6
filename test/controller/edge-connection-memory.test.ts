// EdgeConnection in memory: sessions and transports from a script, time from a hand-driven
// clock, no ports. The fake controller over sockets stays in edge-connection.test.ts.

import { expect, test } from "bun:test";
import type { JobHandle } from "../../src/controller/connection.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { ManualClock, offer, ScriptedOpener, settle } from "../helpers/scripted.ts";

async function connect(opener: ScriptedOpener, fields: { transport?: "auto" | "websocket" | "poll" } = {}) {
  const clock = new ManualClock();
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "secret-api-key-1", version: "t",
    transport: fields.transport ?? "websocket", reconnectMinMs: 100, reconnectMaxMs: 5000, startJitterMs: 0,
    logger, random: () => 0.5, timers: clock, opener,
  });
  const stop = new AbortController();
  const jobs: JobHandle[] = [];
  const done = connection.run({ signal: stop.signal, onJob: (handle) => jobs.push(handle) });
  await clock.advance(0); // the start jitter (0 here)
  return { clock, connection, records, jobs, stop: async () => { stop.abort(); await done; } };
}

test("EdgeConnection waits the longest backoff after refused credentials (session 401, WebSocket close 4403) and retries other failures sooner", async () => {
  const opener = new ScriptedOpener([new EdgeError("unauthorized", "Cannot create session: the controller refused the runner id or API key"), new EdgeError("connection_failed", "Cannot create session: the controller answered 503", { retryAfterMs: 2500 })]);
  const { clock, connection, stop } = await connect(opener);
  await settle();
  expect(connection.status().state).toBe("unauthorized");
  expect(clock.asked.at(-1)).toBe(5000);
  await clock.advance(5000);
  expect(connection.status().state).toBe("backoff");
  expect(clock.asked.at(-1)).toBe(2500);
  await clock.advance(2500);
  expect(connection.status().state).toBe("connected");
  opener.live.drop({ reason: "WebSocket closed (4403)", code: "forbidden" });
  await settle();
  expect(connection.status().state).toBe("unauthorized");
  expect(clock.asked.at(-1)).toBe(5000);
  await stop();
  expect(connection.status().state).toBe("closed");
});

test("EdgeConnection grants credit for free slots, hands an offer over as a JobHandle, and sends its events and result", async () => {
  const opener = new ScriptedOpener();
  const { connection, jobs, stop } = await connect(opener);
  await settle();
  connection.setFreeSlots(2);
  const live = opener.live;
  expect(live.of("heartbeat")).toEqual([{ v: 1, type: "heartbeat", leases: [] }]);
  expect(live.of("credit")).toEqual([{ v: 1, type: "credit", slots: 2 }]);
  live.deliver({ v: 1, type: "offer", job: offer("j1") });
  expect(jobs.map((j) => j.job.id)).toEqual(["j1"]);
  const job = jobs[0]!;
  job.accept();
  job.log([{ ts: 1, level: "info", msg: "hello" }]);
  const answer = job.complete({ status: "succeeded", output: 1, startedAt: 1, finishedAt: 2 });
  expect(live.sent.map((m) => m.type)).toEqual(["heartbeat", "credit", "accept", "log", "result"]);
  expect(live.of("result")[0]).toEqual({ v: 1, type: "result", jobId: "j1", attempt: 1, lastSeq: 1, status: "succeeded", output: 1, startedAt: 1, finishedAt: 2 });
  live.deliver({ v: 1, type: "ack", jobId: "j1", attempt: 1, seq: 1 });
  live.deliver({ v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: true });
  expect(await answer).toEqual({ accepted: true });
  await stop();
});

test("EdgeConnection replays unacknowledged events and the result on the next session, after re-announcing the lease", async () => {
  const opener = new ScriptedOpener();
  const { clock, connection, jobs, stop } = await connect(opener);
  await settle();
  connection.setFreeSlots(1);
  opener.live.deliver({ v: 1, type: "offer", job: offer("j1") });
  const job = jobs[0]!;
  job.log([{ ts: 1, level: "info", msg: "one" }]);
  job.log([{ ts: 2, level: "info", msg: "two" }]);
  opener.live.deliver({ v: 1, type: "ack", jobId: "j1", attempt: 1, seq: 1 });
  void job.complete({ status: "failed", error: { code: "plugin_error", message: "no" }, startedAt: 1, finishedAt: 2 });
  opener.live.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
  await settle();
  expect(connection.status().state).toBe("backoff");
  await clock.advance(clock.asked.at(-1) ?? 0);
  expect(opener.transports).toHaveLength(2);
  const replay = opener.live.sent;
  expect(replay[0]).toEqual({ v: 1, type: "heartbeat", leases: [{ jobId: "j1", attempt: 1 }] });
  expect(replay.slice(1, 3).map((m) => [m.type, "seq" in m ? m.seq : "lastSeq" in m ? m.lastSeq : undefined])).toEqual([["log", 2], ["result", 2]]);
  await stop();
});

test("EdgeConnection answers a malformed frame with an error frame and counts it; an unknown type is ignored", async () => {
  const opener = new ScriptedOpener();
  const { connection, stop } = await connect(opener);
  await settle();
  opener.live.deliver({ v: 1, type: "offer", job: { id: "" } });
  opener.live.deliver({ v: 1, type: "brand_new_thing" });
  expect(opener.live.of("error")).toHaveLength(1);
  expect(opener.live.of("error")[0]?.error.code).toBe("malformed_frame");
  expect(connection.status().protocolErrors).toBe(1);
  await stop();
});

test("EdgeConnection in auto mode falls back to long-poll after WebSocket attaches keep failing", async () => {
  const opener = new ScriptedOpener([], [new EdgeError("connection_failed", "Cannot open WebSocket: 502"), new EdgeError("connection_failed", "Cannot open WebSocket: 502")]);
  const { clock, connection, stop } = await connect(opener, { transport: "auto" });
  await settle();
  await clock.advance(clock.asked.at(-1) ?? 0);
  await clock.advance(clock.asked.at(-1) ?? 0);
  expect(connection.status()).toMatchObject({ state: "connected", transport: "poll" });
  expect(opener.live.kind).toBe("poll");
  await stop();
});
