import { expect, test } from "bun:test";
import { Lifecycle } from "../../src/runner/lifecycle.ts";
import { memoryLogger } from "../../src/log/logger.ts";

test("Lifecycle.transition() logs each change and records since when", () => {
  let now = 1000;
  const { logger, records } = memoryLogger();
  const lifecycle = new Lifecycle({ logger, now: () => now });
  now = 2000;
  lifecycle.transition("connecting");
  lifecycle.transition("ready");
  expect(lifecycle.state).toBe("ready");
  expect(lifecycle.since).toBe(2000);
  expect(records.map((r) => r.msg)).toEqual(["Runner starting → connecting", "Runner connecting → ready"]);
});

test("Lifecycle.transition() throws on an illegal transition", () => {
  const lifecycle = new Lifecycle({ logger: memoryLogger().logger });
  lifecycle.transition("draining");
  expect(() => lifecycle.transition("ready")).toThrow('Illegal runner state transition "draining" → "ready"');
  lifecycle.transition("stopped");
  expect(() => lifecycle.transition("connecting")).toThrow();
  expect(lifecycle.canTransition("failed")).toBe(false);
});
