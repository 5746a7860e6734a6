// Each session listened for the runner's stop on its signal and never stopped listening: a runner
// whose sessions come and go (a flaky network, a controller restarted) piled up one listener (and
// what it holds) per session for the life of the process. The listener goes when the session ends.

import { expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { ManualClock, ScriptedOpener, settle } from "../helpers/scripted.ts";

/** The "abort" listeners added to `signal` and not removed since. */
function countAbortListeners(signal: AbortSignal): Set<unknown> {
  const live = new Set<unknown>();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: AddEventListenerOptions) => {
    if (type === "abort") live.add(listener);
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListenerOrEventListenerObject, options?: EventListenerOptions) => {
    if (type === "abort") live.delete(listener);
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return live;
}

test("twenty sessions that end leave no listener on the runner's stop signal beyond the live session's", async () => {
  const clock = new ManualClock();
  const stop = new AbortController();
  const live = countAbortListeners(stop.signal);
  // The hand-driven clock never removes its listeners; its backoff sleeps are not counted here.
  const timers = { now: clock.now, sleep: (ms: number, signal?: AbortSignal) => clock.sleep(ms, signal === stop.signal ? undefined : signal) };
  const opener = new ScriptedOpener();
  const { logger } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 100, reconnectMaxMs: 1000, startJitterMs: 0, logger, random: () => 0.5, timers, opener,
  });
  const done = connection.run({ signal: stop.signal, onJob: () => {} });
  await clock.advance(0);
  for (let i = 0; i < 20; i++) {
    expect(connection.status().state).toBe("connected");
    opener.live.drop({ reason: "WebSocket closed (1006)", code: "connection_failed" });
    await settle();
    await clock.advance(clock.asked.at(-1) ?? 0);
  }
  expect(opener.transports).toHaveLength(21);
  expect(connection.status().state).toBe("connected");
  expect(live.size).toBeLessThanOrEqual(1);
  stop.abort();
  await done;
});
