import { expect, test } from "bun:test";
import { checkReadiness } from "../../src/status/readiness.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";
import type { RunnerSnapshot } from "../../src/status/snapshot.ts";

const connection = (state: RunnerSnapshot["connection"]["state"], sinceAgoMs = 65_000): RunnerSnapshot["connection"] =>
  ({ state, since: NOW - sinceAgoMs, reconnects: 0, protocolErrors: 0 });

test("checkReadiness() is ready when ready, connected and with a free slot", () => {
  expect(checkReadiness(snapshotFixture())).toEqual({ ready: true });
});

test("checkReadiness() gives one reason per cause", () => {
  const cases: Array<[Partial<RunnerSnapshot>, string]> = [
    [{ state: "starting", connection: connection("idle") }, "starting"],
    [{ state: "connecting", connection: connection("backoff") }, "not connected (backoff since 1 m 5 s)"],
    [{ state: "connecting", connection: connection("connecting", 1_500) }, "not connected (connecting since 1.5 s)"],
    [{ state: "connecting", connection: connection("connected") }, "starting"],
    [{ state: "ready", connection: connection("unauthorized") }, "unauthorized: the controller refused the API key"],
    [{ state: "connecting", connection: connection("unauthorized") }, "unauthorized: the controller refused the API key"],
    [{ state: "draining" }, "draining"],
    [{ freeSlots: 0, running: [] }, "no free slots (4/4 busy)"],
    [{ state: "stopped", connection: connection("closed") }, "stopped"],
    [{ state: "failed" }, "failed"],
  ];
  for (const [overrides, reason] of cases) {
    expect(checkReadiness(snapshotFixture(overrides))).toEqual({ ready: false, reason });
  }
});
