import { expect, test } from "bun:test";
import { checkHealth } from "../../src/status/health.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";

test("checkHealth() is ok when every loop ticked within its silence limit", () => {
  expect(checkHealth(snapshotFixture())).toEqual({
    ok: true,
    loops: [{ name: "heartbeat", lastTickSecondsAgo: 2, maxSilenceSeconds: 30, ok: true }],
  });
});

test("checkHealth() names each stuck loop and how long ago it ticked", () => {
  const health = checkHealth(snapshotFixture({
    loops: [
      { name: "heartbeat", lastTickAt: NOW - 93_000, maxSilenceMs: 30_000 },
      { name: "poll", lastTickAt: NOW - 1_000, maxSilenceMs: 30_000 },
      { name: "sweeper", lastTickAt: NOW - 600_400, maxSilenceMs: 120_000 },
    ],
  }));
  expect(health.ok).toBe(false);
  expect(health.ok ? "" : health.reason).toBe("heartbeat loop last ticked 93 s ago; sweeper loop last ticked 600 s ago");
});

test("checkHealth() fails a failed runner even when its loops tick", () => {
  const health = checkHealth(snapshotFixture({ state: "failed" }));
  expect(health.ok ? "" : health.reason).toBe("runner failed");
});

test("checkHealth() is ok with no loops (the process answering is the liveness signal)", () => {
  expect(checkHealth(snapshotFixture({ loops: [] })).ok).toBe(true);
});
