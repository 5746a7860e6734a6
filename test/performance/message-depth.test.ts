// Every protocol message is checked for depth before a field is read (docs/protocol.md: deeper
// than 100 levels is malformed). Issue 15 made the check a walk that allocates nothing per node;
// these pin its bound on both ends and its agreement with checkJsonBounds.
import { expect, test } from "bun:test";
import { MAX_MESSAGE_DEPTH, parseControllerMessage, parseRunnerMessage } from "../../src/protocol/edge-v1.ts";
import { checkJsonBounds, nestsDeeperThan } from "../../src/util/json-bounds.ts";

/** A value nesting `depth` levels: arrays, with an object every other level. */
function nested(depth: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value, 1] : { k: value, n: null };
  return value;
}

test("a message nesting 100 levels is accepted, 101 and 40,000 are malformed, on both ends", () => {
  // The message object itself and `output` (or `job.input`) take two of the levels.
  const result = (depth: number) => ({ v: 1, type: "result", jobId: "j", attempt: 1, lastSeq: 0, status: "succeeded", startedAt: 1, finishedAt: 2, output: nested(depth) });
  const offer = (depth: number) => ({ v: 1, type: "offer", job: { id: "j", attempt: 1, group: "g", plugin: "p", action: "a", input: nested(depth), leaseExpiresAt: 1, submittedAt: 1 } });
  expect(parseRunnerMessage(result(MAX_MESSAGE_DEPTH - 1)).ok).toBe(true);
  expect(parseControllerMessage(offer(MAX_MESSAGE_DEPTH - 2)).ok).toBe(true);
  for (const depth of [MAX_MESSAGE_DEPTH, 40_000]) {
    const runner = parseRunnerMessage(result(depth));
    const controller = parseControllerMessage(offer(depth - 1));
    for (const parsed of [runner, controller]) {
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error.message).toBe(`Malformed frame: the message nests deeper than ${MAX_MESSAGE_DEPTH} levels`);
    }
  }
});

test("nestsDeeperThan() draws the line where checkJsonBounds() does", () => {
  const bounds = (maxDepth: number) => ({ maxDepth, maxBytes: Number.MAX_SAFE_INTEGER });
  for (const value of [null, 3, "s", [], {}, [[]], { a: { b: [1, { c: [] }] } }, nested(7), nested(8), [1, [2, [3]], { x: {} }]]) {
    for (let maxDepth = 0; maxDepth <= 9; maxDepth++) {
      expect(nestsDeeperThan(value, maxDepth)).toBe(checkJsonBounds(value, bounds(maxDepth))?.kind === "depth");
    }
  }
});
