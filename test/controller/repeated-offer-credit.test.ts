// EdgeConnection and a repeated `offer` frame (same job, attempt and session): it is ignored as a
// job, and until 2026-12-02 it was still counted as a used credit. The runner's idea of its unused
// credit then fell below the controller's, its next grant topped the credit up past its free
// slots, and the controller could offer a job with no slot for it (rejected no_free_slot, an
// attempt used up).
import { expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { JobHandle } from "../../src/controller/connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { message } from "../../src/protocol/edge-v1.ts";
import { ManualClock, ScriptedOpener, offer } from "../helpers/scripted.ts";

test("EdgeConnection does not count a repeated offer as used credit: credit granted never exceeds free slots + distinct offers", async () => {
  const clock = new ManualClock();
  const stop = new AbortController();
  const opener = new ScriptedOpener();
  const { logger, records } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, random: () => 0.5, timers: clock, opener,
  });
  const jobs: JobHandle[] = [];
  connection.setFreeSlots(2);
  const done = connection.run({ signal: stop.signal, onJob: (j) => jobs.push(j) });
  await clock.advance(0);
  const session = opener.live;
  session.deliver(message({ type: "offer", job: offer("A") }));
  connection.setFreeSlots(1); // A started: one slot free, one credit unused at the controller
  session.deliver(message({ type: "offer", job: offer("A") })); // the same frame again
  connection.setFreeSlots(1); // any later grant of the same state
  expect(jobs).toHaveLength(1);
  expect(records.some((r) => String(r.msg).includes('Ignoring a repeated offer of job "A"'))).toBe(true);
  const granted = session.of("credit").reduce((sum, c) => (c.reset ? c.slots : sum + c.slots), 0);
  // The controller's view: credit granted less the one lease it made; never more than the one free slot.
  expect(granted - 1).toBe(1);
  stop.abort();
  await done;
});
