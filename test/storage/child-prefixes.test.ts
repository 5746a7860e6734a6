// Reading the children of a prefix off a Delimiter listing (child-prefixes.ts).

import { expect, test } from "bun:test";
import { childOfKey, childOfPrefix, YieldedPrefixes } from "../../src/storage/child-prefixes.ts";

test("childOfPrefix() takes exactly one plain segment below the parent", () => {
  expect(childOfPrefix("runs/r/", "runs/r/job/")).toEqual({ state: "child", prefix: "runs/r/job/" });
  for (const prefix of ["runs/x/job/", "runs/r/", "runs/r//", "runs/r/a/b/", "runs/r/job", "runs/r/../", "runs/r/./"]) expect(childOfPrefix("runs/r/", prefix)).toEqual({ state: "refused" });
});

test("childOfKey() names the child a key lies in, a key at the parent's level, or refuses", () => {
  expect(childOfKey("runs/r/", "runs/r/job/1/k")).toEqual({ state: "child", prefix: "runs/r/job/" });
  expect(childOfKey("runs/r/", "runs/r/k")).toEqual({ state: "at_level" });
  for (const key of ["runs/x/job/1/k", "runs/r//k", "runs/r/../k"]) expect(childOfKey("runs/r/", key)).toEqual({ state: "refused" });
});

test("YieldedPrefixes.first() is true once per prefix, and past its bound still for a run of the same one", () => {
  const yielded = new YieldedPrefixes(2);
  expect(["a", "a", "b", "a", "c", "c", "d"].map((p) => yielded.first(p))).toEqual([true, false, true, false, true, false, true]);
});
