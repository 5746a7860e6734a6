import { expect, test } from "bun:test";
import { JOB_STATES, isTerminal, transitionJob } from "../../src/reference-controller/job-state.ts";
import { EdgeError } from "../../src/errors.ts";

test("transitionJob() allows the moves of docs/protocol.md", () => {
  expect(transitionJob("j1", "queued", "leased")).toBe("leased");
  expect(transitionJob("j1", "leased", "running")).toBe("running");
  expect(transitionJob("j1", "running", "queued")).toBe("queued");
  expect(transitionJob("j1", "running", "succeeded")).toBe("succeeded");
  expect(transitionJob("j1", "queued", "cancelled")).toBe("cancelled");
  expect(transitionJob("j1", "running", "cancelling")).toBe("cancelling");
  expect(transitionJob("j1", "cancelling", "cancelled")).toBe("cancelled");
});

test("transitionJob() throws a conflict naming both states on an illegal move", () => {
  expect(() => transitionJob("j1", "queued", "running")).toThrow('Cannot move job "j1" from "queued" to "running"');
  expect(() => transitionJob("j1", "cancelling", "succeeded")).toThrow(EdgeError);
  for (const terminal of JOB_STATES.filter(isTerminal)) {
    for (const to of JOB_STATES) expect(() => transitionJob("j1", terminal, to)).toThrow();
  }
  try {
    transitionJob("j1", "succeeded", "queued");
  } catch (error) {
    expect((error as EdgeError).code).toBe("conflict");
  }
});

test("isTerminal() is true exactly for the final states", () => {
  expect(JOB_STATES.filter(isTerminal)).toEqual(["succeeded", "failed", "cancelled", "timed_out"]);
});
