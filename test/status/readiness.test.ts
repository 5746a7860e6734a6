import { expect, test } from "bun:test";
import { checkReadiness } from "../../src/status/readiness.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";
import type { RunnerSnapshot } from "../../src/status/snapshot.ts";

const connection = (state: RunnerSnapshot["connection"]["state"], sinceAgoMs = 65_000): RunnerSnapshot["connection"] =>
  ({ state, since: NOW - sinceAgoMs, reconnects: 0, protocolErrors: 0 });

test("checkReadiness() is ready when ready, connected and with a free slot", () => {
  expect(checkReadiness(snapshotFixture())).toEqual({ ready: true });
});

test("checkReadiness() gives one named kind and reason per cause", () => {
  const once = { ...connection("backoff"), firstConnectedAt: NOW - 600_000, disconnectedSince: NOW - 65_000, reconnects: 1 };
  const cases: Array<[Partial<RunnerSnapshot>, string, string]> = [
    [{ state: "starting", connection: connection("idle") }, "starting", "starting"],
    [{ state: "connecting", connection: { ...connection("backoff", 1_000), disconnectedSince: NOW - 31_000 } }, "never_connected", "never connected (trying for 31 s)"],
    [{ state: "connecting", connection: connection("connecting", 1_500) }, "never_connected", "never connected (trying for 1.5 s)"],
    [{ state: "connecting", connection: once }, "disconnected", "not connected (disconnected for 1 m 5 s)"],
    [{ state: "connecting", connection: connection("connected") }, "starting", "starting"],
    [{ state: "ready", connection: connection("unauthorized") }, "unauthorized", "unauthorized: the controller refused the API key"],
    [{ state: "connecting", connection: connection("unauthorized") }, "unauthorized", "unauthorized: the controller refused the API key"],
    [{ state: "draining" }, "draining", "draining"],
    [{ freeSlots: 0, running: [] }, "busy", "busy: every slot runs a job (4/4)"],
    [{ state: "stopped", connection: connection("closed") }, "stopped", "stopped"],
    [{ state: "failed" }, "failed", "failed"],
    [{ keysPending: true }, "starting", "starting: telling the controller the encryption keys"],
  ];
  for (const [overrides, kind, reason] of cases) {
    expect(checkReadiness(snapshotFixture(overrides))).toEqual({ ready: false, kind, reason } as never);
  }
});
