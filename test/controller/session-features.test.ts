// The session answer's `features`: bounded and validated, unknown names ignored, and the edge
// connection grants credit for holding (local prefetch) only where the controller lists `release`.

import { afterEach, expect, test } from "bun:test";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { TransportOpener } from "../../src/controller/edge/opener.ts";
import { sessionFeatures } from "../../src/controller/edge/session-features.ts";
import type { TransportClosed } from "../../src/controller/edge/transport.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import type { CreateSessionResponse, RunnerMessage } from "../../src/protocol/edge-v1.ts";
import { eventually } from "../helpers/harness.ts";

const stops: AbortController[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop.abort();
});

test("sessionFeatures() keeps the known names it lists and ignores the rest", () => {
  expect([...sessionFeatures(undefined)]).toEqual([]);
  expect([...sessionFeatures([])]).toEqual([]);
  expect([...sessionFeatures(["release"])]).toEqual(["release"]);
  expect([...sessionFeatures(["x-later-feature", "release", "release"])]).toEqual(["release"]);
  expect([...sessionFeatures(["Release", "x".repeat(64)])]).toEqual([]);
});

test("sessionFeatures() refuses a list that is not one, naming the field and what is wrong", () => {
  const cases: Array<[unknown, string]> = [
    ["release", "a string"],
    [null, "null"],
    [{ release: true }, "an object"],
    [[["release"]], "entry 0 is a list"],
    [Array.from({ length: 65 }, (_, i) => `f${i}`), "65 entries"],
    [["release", 7], "entry 1 is a number"],
    [["release", null], "entry 1 is null"],
    [[""], "entry 0 has 0 characters"],
    [["x".repeat(65)], "entry 0 has 65 characters"],
  ];
  for (const [value, problem] of cases) {
    let thrown: unknown;
    try {
      sessionFeatures(value);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: "protocol_error", message: expect.stringContaining(`invalid "features" (${problem})`) });
  }
});

/** An in-memory controller: each session answer from `answers` (by attempt), and every message the runner sent. */
function scripted(answers: Array<Partial<CreateSessionResponse>>) {
  const sent: RunnerMessage[][] = [];
  let sessions = 0;
  const ends: Array<(closed: TransportClosed) => void> = [];
  const opener: TransportOpener = {
    session: async () => ({ v: 1, sessionId: `s${sessions}`, token: "t", heartbeatIntervalMs: 60_000, leaseTtlMs: 300_000, pollWaitMs: 25_000, ...answers[Math.min(sessions++, answers.length - 1)] }) as CreateSessionResponse,
    open: async (kind) => {
      const messages: RunnerMessage[] = [];
      sent.push(messages);
      return { kind, send: (batch) => messages.push(...batch), closed: new Promise<TransportClosed>((resolve) => ends.push(resolve)), close: () => {} };
    },
  };
  /** Credit granted on session `n` (from 0): the sum, or the last reset plus what follows it. */
  const credit = (n: number): number => (sent[n] ?? []).reduce((sum, m) => (m.type !== "credit" ? sum : m.reset === true ? m.slots : sum + m.slots), 0);
  return { opener, sent, credit, drop: () => ends.at(-1)?.({ reason: "dropped", code: "connection_failed" }) };
}

function connect(opener: TransportOpener) {
  const { logger } = memoryLogger();
  const connection = new EdgeConnection({
    controllerUrl: "http://127.0.0.1:1", runnerId: "r1", group: "g", apiKey: "k", version: "t", transport: "websocket",
    reconnectMinMs: 1, reconnectMaxMs: 5, startJitterMs: 0, logger, opener,
  });
  const stop = new AbortController();
  stops.push(stop);
  void connection.run({ signal: stop.signal, onJob: () => {} });
  return connection;
}

test("EdgeConnection grants credit for holding only while the session's controller lists release", async () => {
  const { opener, credit, drop, sent } = scripted([{ features: ["release", "x-later"] }, {}, { features: ["release"] }]);
  const connection = connect(opener);
  connection.setFreeSlots(2, 3);
  await eventually(() => (connection.status().state === "connected" ? true : undefined));
  expect(connection.releases()).toBe(true);
  expect(credit(0)).toBe(5);
  // Failover to a controller from before `release`: free slots only, from the first credit on.
  drop();
  await eventually(() => (sent.length === 2 && connection.status().state === "connected" ? true : undefined));
  expect(connection.releases()).toBe(false);
  expect(credit(1)).toBe(2);
  connection.setFreeSlots(1, 4);
  expect(credit(1)).toBe(1);
  // And back to one that lists it.
  drop();
  await eventually(() => (sent.length === 3 && connection.status().state === "connected" ? true : undefined));
  expect(credit(2)).toBe(5);
});

test("EdgeConnection refuses a session whose features are malformed: no transport, the error names the field", async () => {
  const { opener, sent } = scripted([{ features: "release" as unknown as string[] }]);
  const connection = connect(opener);
  connection.setFreeSlots(2, 3);
  await eventually(() => ((connection.status().failedAttempts ?? 0) >= 2 ? true : undefined));
  expect(sent).toEqual([]);
  expect(connection.status().lastError).toContain(`invalid "features" (a string)`);
});
