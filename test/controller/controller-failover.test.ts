// EdgeConnection with a list of controller URLs (replicas), in memory: which URL each attempt
// goes to, that the jittered backoff still paces the attempts, and that the outbox is replayed
// on the replica the runner fails over to. The two real controllers are in
// test/runner/controller-failover-e2e.test.ts.

import { expect, test } from "bun:test";
import type { JobHandle } from "../../src/controller/connection.ts";
import { ControllerUrls } from "../../src/controller/edge/controller-urls.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { CreateSessionOptions } from "../../src/controller/edge/session.ts";
import { EdgeError } from "../../src/errors.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { CreateSessionResponse } from "../../src/protocol/edge-v1.ts";
import { ManualClock, offer, ScriptedOpener, settle } from "../helpers/scripted.ts";

const A = "https://a.example.com", B = "https://b.example.com", C = "https://c.example.com";

/** A scripted opener whose sessions fail at the URLs in `down` (unreachable) and record where each went. */
class ReplicaOpener extends ScriptedOpener {
  readonly down = new Set<string>();
  readonly tried: string[] = [];
  unauthorized = false;
  override session(options?: CreateSessionOptions): Promise<CreateSessionResponse> {
    const url = options?.baseUrl ?? "";
    this.tried.push(url);
    if (this.unauthorized) return Promise.reject(new EdgeError("unauthorized", "Cannot create session: the controller refused the runner id or API key"));
    if (this.down.has(url)) return Promise.reject(new EdgeError("connection_failed", `Cannot create session: connect ECONNREFUSED (${url})`));
    return super.session();
  }
}

async function connect(opener: ReplicaOpener, urls: readonly string[]) {
  const clock = new ManualClock();
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: urls, runnerId: "r1", group: "g", apiKey: "secret-api-key-1", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 5000, startJitterMs: 0, logger, random: () => 0.5, timers: clock, opener,
  });
  const stop = new AbortController();
  const jobs: JobHandle[] = [];
  const done = connection.run({ signal: stop.signal, onJob: (handle) => jobs.push(handle) });
  await clock.advance(0);
  /** Waits out the backoff the connection asked for last, so its next attempt runs. */
  const nextAttempt = () => clock.advance(clock.asked.at(-1) ?? 0);
  return { clock, connection, records, jobs, nextAttempt, stop: async () => { stop.abort(); await done; } };
}

test("ControllerUrls cycles through the list, counts failovers, and stays put with one URL", () => {
  const urls = new ControllerUrls([A, B, C]);
  expect([urls.current, urls.next(), urls.next(), urls.next()]).toEqual([A, B, C, A]);
  expect(urls.status()).toEqual({ url: A, index: 0, count: 3, failovers: 3 });
  const one = new ControllerUrls(A);
  expect(one.next()).toBe(A);
  expect(one.status().failovers).toBe(0);
  expect(one.where()).toBe("");
  expect(() => new ControllerUrls([])).toThrow(RangeError);
});

test("ControllerUrls.status() shows the current URL without credentials", () => {
  const urls = new ControllerUrls(["https://user:hunter2@a.example.com/base?token=t0ps3cret"]);
  expect(urls.status().url).toBe("https://a.example.com/base");
  expect(JSON.stringify(urls.status())).not.toContain("hunter2");
});

test("EdgeConnection moves to the next controller URL when one cannot be reached, after the same jittered backoff", async () => {
  const opener = new ReplicaOpener();
  opener.down.add(A);
  const { connection, clock, records, nextAttempt, stop } = await connect(opener, [A, B, C]);
  await settle();
  expect(opener.tried).toEqual([A]);
  expect(connection.status().state).toBe("backoff");
  // The wait before trying B is the backoff's full-jitter wait (random 0.5 of the 100 ms floor), not zero.
  expect(clock.asked.at(-1)).toBe(50);
  await nextAttempt();
  expect(opener.tried).toEqual([A, B]);
  expect(connection.status()).toMatchObject({ state: "connected", controller: { url: B, index: 1, count: 3, failovers: 1 } });
  expect(connection.currentUrl()).toBe(B);
  expect(records.some((r) => r.msg.includes(`Cannot connect to the controller at "${A}"`) && r.msg.includes(`(next: "${B}")`))).toBe(true);
  await stop();
});

test("EdgeConnection moves on when the current controller drops the session, and cycles back to the first", async () => {
  const opener = new ReplicaOpener();
  const { connection, nextAttempt, stop } = await connect(opener, [A, B, C]);
  await settle();
  expect(connection.status().controller?.url).toBe(A);
  opener.down.add(A);
  opener.down.add(C);
  opener.live.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
  await settle();
  await nextAttempt();
  expect(connection.status()).toMatchObject({ state: "connected", controller: { url: B, index: 1 } });
  opener.down.delete(A);
  opener.live.drop({ reason: "The controller did not answer for 10 s (frozen or unreachable)", code: "connection_failed" });
  await settle();
  await nextAttempt(); // C: still down
  expect(connection.status().state).toBe("backoff");
  await nextAttempt(); // A again
  expect(opener.tried).toEqual([A, B, C, A]);
  expect(connection.status()).toMatchObject({ state: "connected", reconnects: 2, controller: { url: A, index: 0, failovers: 3 } });
  await stop();
});

test("EdgeConnection stays on the same controller URL when it refuses the credentials: replicas answer a key alike", async () => {
  const opener = new ReplicaOpener();
  opener.unauthorized = true;
  const { connection, nextAttempt, stop } = await connect(opener, [A, B]);
  await settle();
  await nextAttempt();
  expect(opener.tried).toEqual([A, A]);
  expect(connection.status()).toMatchObject({ state: "unauthorized", controller: { url: A, failovers: 0 } });
  await stop();
});

test("EdgeConnection replays the outbox on the controller it fails over to, after re-announcing the lease", async () => {
  const opener = new ReplicaOpener();
  const { connection, jobs, nextAttempt, stop } = await connect(opener, [A, B]);
  await settle();
  connection.setFreeSlots(1);
  const onA = opener.live;
  onA.deliver({ v: 1, type: "offer", job: offer("j1") });
  const job = jobs[0]!;
  job.accept();
  job.log([{ ts: 1, level: "info", msg: "one" }]);
  job.log([{ ts: 2, level: "info", msg: "two" }]);
  onA.deliver({ v: 1, type: "ack", jobId: "j1", attempt: 1, seq: 1 });
  const answer = job.complete({ status: "succeeded", output: { n: 1 }, startedAt: 1, finishedAt: 2 });
  // Replica A dies before it acknowledged line two and the result.
  opener.down.add(A);
  onA.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
  await settle();
  await nextAttempt();
  const onB = opener.live;
  expect(onB).not.toBe(onA);
  expect(connection.currentUrl()).toBe(B);
  expect(onB.sent[0]).toEqual({ v: 1, type: "heartbeat", leases: [{ jobId: "j1", attempt: 1 }] });
  expect(onB.sent.slice(1, 3).map((m) => [m.type, "seq" in m ? m.seq : "lastSeq" in m ? m.lastSeq : undefined])).toEqual([["log", 2], ["result", 2]]);
  onB.deliver({ v: 1, type: "ack", jobId: "j1", attempt: 1, seq: 2 });
  onB.deliver({ v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: true });
  expect(await answer).toEqual({ accepted: true });
  await stop();
});

test("EdgeConnection sends a result again with the heartbeat after a whole interval without its result_ack (a replica that could not write it stays silent)", async () => {
  const opener = new ReplicaOpener();
  const { clock, connection, jobs, stop } = await connect(opener, [A, B]);
  await settle();
  connection.setFreeSlots(1);
  const live = opener.live;
  live.deliver({ v: 1, type: "offer", job: offer("j1") });
  const answer = jobs[0]!.complete({ status: "succeeded", output: 1, startedAt: 1, finishedAt: 2 });
  expect(live.of("result")).toHaveLength(1);
  // No answer: the first heartbeat after it only heartbeats, the next one sends the result again.
  await clock.advance(60_000);
  expect(live.of("result")).toHaveLength(1);
  await clock.advance(60_000);
  expect(live.of("result")).toHaveLength(2);
  live.deliver({ v: 1, type: "result_ack", jobId: "j1", attempt: 1, accepted: true });
  expect(await answer).toEqual({ accepted: true });
  await clock.advance(120_000);
  expect(live.of("result")).toHaveLength(2);
  await stop();
});
