import { expect, test } from "bun:test";
import { transitionWorker, type WorkerState } from "../../src/plugins/worker-state.ts";

test("transitionWorker() allows the lifecycle starting → idle → busy → idle → stopping", () => {
  let state: WorkerState = "starting";
  for (const next of ["idle", "busy", "idle", "stopping"] as const) state = transitionWorker(state, next);
  expect(state).toBe("stopping");
});

test("transitionWorker() lets every live state stop", () => {
  for (const from of ["starting", "idle", "busy"] as const) expect(transitionWorker(from, "stopping")).toBe("stopping");
});

test("transitionWorker() throws on an illegal move and names both states", () => {
  expect(() => transitionWorker("starting", "busy", 3)).toThrow('Cannot move plugin worker 3 from "starting" to "busy"');
  expect(() => transitionWorker("busy", "busy")).toThrow(RangeError);
  expect(() => transitionWorker("stopping", "idle")).toThrow(RangeError);
  expect(() => transitionWorker("idle", "starting")).toThrow(RangeError);
});
