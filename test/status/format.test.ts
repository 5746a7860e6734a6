import { expect, test } from "bun:test";
import { formatDuration } from "../../src/status/format.ts";

test("formatDuration() picks units a person reads at a glance", () => {
  const cases: Array<[number, string]> = [
    [-5, "0 ms"], [NaN, "0 ms"], [850, "850 ms"], [4_260, "4.2 s"], [42_900, "42 s"], [192_000, "3 m 12 s"],
    [7_500_000, "2 h 5 m"], [273_600_000, "3 d 4 h"],
  ];
  for (const [ms, text] of cases) expect(formatDuration(ms)).toBe(text);
});
