// What the runner refused from the controller is not hearing from it: a malformed message (`{}`)
// or one of an unknown type once counted for liveness, so a controller (or proxy) sending nothing
// else kept its session "connected". Each refused frame was answered with its own error frame, up
// to 1,000 per long-poll answer: now only as often as the warning is logged, like refused answers.

import { expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { ManualClock, ScriptedOpener, settle } from "../helpers/scripted.ts";

async function connect(opener: ScriptedOpener) {
  const clock = new ManualClock();
  const { logger } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "poll",
    reconnectMinMs: 100, reconnectMaxMs: 5000, startJitterMs: 0, logger, random: () => 0.5, timers: clock, opener,
    livenessProbeMs: 1_000, livenessTimeoutMs: 2_000,
  });
  const stop = new AbortController();
  const done = connection.run({ signal: stop.signal, onJob: () => {} });
  await clock.advance(0);
  await settle();
  return { clock, connection, stop: async () => { stop.abort(); await done; } };
}

for (const [name, frame] of [["malformed messages ({})", {}], ["messages of an unknown type", { v: 1, type: "brand_new_thing" }]] as const) {
  test(`a session carrying nothing but ${name} is ended by liveness`, async () => {
    const opener = new ScriptedOpener();
    const { clock, connection, stop } = await connect(opener);
    expect(connection.status().state).toBe("connected");
    const first = opener.live;
    // Every 250 ms for 5 s: one such frame; the probe's heartbeat is never acknowledged.
    for (let i = 0; i < 20 && connection.status().state === "connected"; i++) {
      first.deliver(frame);
      await clock.advance(250);
    }
    expect(connection.status().state).not.toBe("connected");
    expect(connection.status().lastError).toContain("did not answer");
    await stop();
  });
}

test("a valid message still counts: a session answering its probes with heartbeat_ack stays connected", async () => {
  const opener = new ScriptedOpener();
  const { clock, connection, stop } = await connect(opener);
  for (let i = 0; i < 20; i++) {
    opener.live.deliver({ v: 1, type: "heartbeat_ack", leases: [] });
    await clock.advance(250);
  }
  expect(connection.status().state).toBe("connected");
  expect(opener.transports).toHaveLength(1);
  await stop();
});

test("1,000 malformed messages are counted each but answered with error frames only as often as they are logged", async () => {
  const opener = new ScriptedOpener();
  const { connection, stop } = await connect(opener);
  for (let i = 0; i < 1_000; i++) opener.live.deliver({});
  expect(connection.status().protocolErrors).toBe(1_000);
  const errors = opener.live.of("error").length;
  expect(errors).toBeGreaterThanOrEqual(1);
  expect(errors).toBeLessThanOrEqual(6);
  await stop();
});
