import { expect, test } from "bun:test";
import { packFrames } from "../../src/protocol/frames.ts";
import { MAX_BATCH_MESSAGES, PACK_FRAME_BYTES } from "../../src/protocol/limits.ts";

test("packFrames() sends one message as itself and several as one array", () => {
  expect(packFrames([{ a: 1 }])).toEqual(['{"a":1}']);
  expect(packFrames([{ a: 1 }, { b: 2 }])).toEqual(['[{"a":1},{"b":2}]']);
  expect(packFrames([])).toEqual([]);
});

test("packFrames() keeps frames under the size and count limits, in order", () => {
  const big = Array.from({ length: 40 }, (_, i) => ({ i, pad: "x".repeat(100_000) }));
  const frames = packFrames(big);
  expect(frames.length).toBeGreaterThan(1);
  for (const frame of frames) expect(frame.length).toBeLessThanOrEqual(PACK_FRAME_BYTES + 2);
  expect(frames.flatMap((f) => JSON.parse(f) as Array<{ i: number }>).map((m) => m.i)).toEqual(big.map((m) => m.i));
  const many = packFrames(Array.from({ length: 2500 }, (_, i) => ({ i })));
  expect(many.map((f) => (JSON.parse(f) as unknown[]).length)).toEqual([MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES, 500]);
});
