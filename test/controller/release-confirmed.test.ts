// JobOutbox.release() through EdgeConnection: a held job given back is done only once the
// controller confirms the release (the heartbeat sent right behind it is answered `ok: false`).
// Until 2026-12-02 it was done as soon as it was handed to a session: a session that died with it
// unread (half-open TCP; the WebSocket drops sends while not open) lost it, the job was neither
// heartbeated nor released on the next session, and its lease lapsed with the attempt used
// (maxAttempts 1: failed lease_expired without ever running), against docs/protocol.md's
// "A release never uses up an attempt".
import { expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { JobHandle } from "../../src/controller/connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { message } from "../../src/protocol/edge-v1.ts";
import { ManualClock, ScriptedOpener, offer, settle } from "../helpers/scripted.ts";

/** A controller that lists `release` in its session answer. */
class ReleasingOpener extends ScriptedOpener {
  override async session() {
    const session = await super.session();
    return { ...session, features: ["release"] };
  }
}

function connect() {
  const clock = new ManualClock();
  const stop = new AbortController();
  const opener = new ReleasingOpener();
  const { logger } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, random: () => 0.5, timers: clock, opener,
  });
  const jobs: JobHandle[] = [];
  connection.setFreeSlots(0, 1);
  const done = connection.run({ signal: stop.signal, onJob: (j) => jobs.push(j) });
  return { clock, stop, opener, connection, jobs, done };
}

/** Whether a drain's flush (connection.flush()) would end now: every held job done. */
const flushed = async (connection: EdgeConnection): Promise<boolean> => {
  const giveUp = new AbortController();
  let ended = false;
  const flush = connection.flush(giveUp.signal).then(() => (ended = true));
  await settle();
  const endedByItself = ended;
  giveUp.abort();
  await flush;
  return endedByItself;
};

test("EdgeConnection sends a release lost with its session again first thing on the next session", async () => {
  const { clock, stop, opener, jobs, done } = connect();
  await clock.advance(0);
  const s1 = opener.live;
  s1.deliver(message({ type: "offer", job: offer("held-1") }));
  expect(jobs).toHaveLength(1);
  jobs[0]!.release!();
  expect(s1.of("release")).toHaveLength(1);
  // s1 was already dead (half-open TCP): nothing reached the controller, nothing answers.
  s1.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
  await settle();
  await clock.advance(clock.asked.at(-1) ?? 0);
  const s2 = opener.live;
  expect(s2).not.toBe(s1);
  expect(s2.of("release").map((r) => r.jobId)).toEqual(["held-1"]);
  // The release goes before the heartbeat that confirms it.
  const releaseAt = s2.sent.findIndex((m) => m.type === "release");
  const probeAt = s2.sent.findIndex((m, i) => i > releaseAt && m.type === "heartbeat" && m.leases.some((l) => l.jobId === "held-1"));
  expect(probeAt).toBeGreaterThan(releaseAt);
  stop.abort();
  await done;
});

test("EdgeConnection finishes a release once the heartbeat behind it is answered ok: false, not before", async () => {
  const { clock, stop, opener, connection, jobs, done } = connect();
  await clock.advance(0);
  const s1 = opener.live;
  s1.deliver(message({ type: "offer", job: offer("held-1") }));
  jobs[0]!.release!();
  // Handed to the session, not yet confirmed: a drain's flush still waits for it.
  expect(await flushed(connection)).toBe(false);
  // An answer to an earlier heartbeat (the lease still ok) confirms nothing.
  s1.deliver(message({ type: "heartbeat_ack", leases: [{ jobId: "held-1", attempt: 1, ok: true }] }));
  expect(await flushed(connection)).toBe(false);
  s1.deliver(message({ type: "heartbeat_ack", leases: [{ jobId: "held-1", attempt: 1, ok: false, reason: "stale_attempt" }] }));
  expect(await flushed(connection)).toBe(true);
  // Confirmed: not sent again on a later session.
  s1.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
  await settle();
  await clock.advance(clock.asked.at(-1) ?? 0);
  expect(opener.live).not.toBe(s1);
  expect(opener.live.of("release")).toHaveLength(0);
  stop.abort();
  await done;
});

test("EdgeConnection sends an unconfirmed release again after a whole heartbeat interval on the same session", async () => {
  const { clock, stop, opener, jobs, done } = connect();
  await clock.advance(0);
  const s1 = opener.live;
  s1.deliver(message({ type: "offer", job: offer("held-1") }));
  jobs[0]!.release!();
  expect(s1.of("release")).toHaveLength(1);
  // The scripted session's heartbeat interval is 60 s; the release goes again at the second beat.
  await clock.advance(60_000);
  await clock.advance(60_000);
  expect(s1.of("release")).toHaveLength(2);
  stop.abort();
  await done;
});
