// ctx.secrets.mask returns nothing, and the runner refuses a value past its bounds (64 KiB a value,
// 256 values and 256 KiB an attempt, src/secrets/redaction/mask-limits.ts). The refusal used to come back
// to no one: the plugin went on, and printed unmasked what it believed masked. The plugin's side
// now throws at the call, with the host's words, and a sensitive output past the bound is refused
// where it is set.

import { afterAll, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { MAX_MASK_CHARS, MAX_MASKED_CHARS, MAX_MASKS } from "../../src/plugins/host-calls.ts";
import { request, testPool } from "../plugins/support/helpers.ts";

const plugin = fileURLToPath(new URL("fixtures/big-mask.ts", import.meta.url));
const { pool } = testPool({ resolve: (ref) => fileBundleSource(plugin, ref.name, "0.0.1") });
afterAll(() => pool.close());

test("a value past the bound is refused to the plugin, by mask() and by a sensitive output", async () => {
  const req = request("big-mask", "one", { input: MAX_MASK_CHARS });
  expect(await pool.run(req)).toMatchObject({ status: "succeeded" });
  const refusal = `refused: Cannot mask a value of ${MAX_MASK_CHARS + 11} characters (at most ${MAX_MASK_CHARS})`;
  expect(req.logs.map((l) => l.msg).slice(0, 2)).toEqual([refusal, refusal]);
});

test("a value within the bound is masked, and the plugin is not told anything", async () => {
  const req = request("big-mask", "one", { input: 100 });
  expect(await pool.run(req)).toMatchObject({ status: "succeeded" });
  const lines = req.logs.map((l) => l.msg);
  expect(lines.slice(0, 2)).toEqual(["accepted", "accepted"]);
  expect(lines[2]).not.toContain("big-secret-");
});

test("the value past an attempt's count is refused to the plugin", async () => {
  const req = request("big-mask", "many", { input: MAX_MASKS + 1 });
  expect(await pool.run(req)).toMatchObject({ status: "succeeded" });
  const lines = req.logs.map((l) => l.msg);
  expect(lines.filter((l) => l === "accepted")).toHaveLength(MAX_MASKS);
  expect(lines.at(-1)).toBe(`refused: Cannot mask another value for job "${req.jobId}#${req.attempt}": an attempt masks at most ${MAX_MASKS} values and ${MAX_MASKED_CHARS} characters in all`);
});
