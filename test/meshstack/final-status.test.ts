// Outputs as meshStack takes them: a sensitive job output (ctx.outputs.set(name, value,
// {sensitive: true}), which the job path carries as {"$sensitive": value}) goes with its real
// value and isSensitive, as meshcloud's runner sends Terraform's sensitive outputs.

import { expect, test } from "bun:test";
import { finalUpdate, pluginOutputs, RunReport, SUMMARY_MAX } from "../../src/controller/meshstack/final-status.ts";
import { hasLoneSurrogate } from "../../src/util/well-formed.ts";

test("a sensitive job output goes to meshStack as its value with isSensitive: true, beside or instead of an outputs object", () => {
  expect(pluginOutputs({ outputs: { count: 2, password: "(sensitive value)" }, password: { $sensitive: "s3cr3t" }, changesDetected: true })).toEqual({
    count: { value: 2, type: "INTEGER", isSensitive: false },
    password: { value: "s3cr3t", type: "STRING", isSensitive: true },
  });
  expect(pluginOutputs({ name: "x", token: { $sensitive: "t0k" }, config: { $sensitive: { a: 1 } } })).toEqual({
    name: { value: "x", type: "STRING", isSensitive: false },
    token: { value: "t0k", type: "STRING", isSensitive: true },
    config: { value: '{"a":1}', type: "CODE", isSensitive: true },
  });
});

test("pluginOutputs() gives each output a value of its type: a fraction or a number typed STRING as text, an object typed STRING as CODE", () => {
  expect(pluginOutputs({ ratio: 1.5, port: { value: 8080, type: "string" }, n: { value: "42", type: "INTEGER" }, flag: { value: "false", type: "BOOLEAN" }, cfg: { value: { a: 1 }, type: "STRING" }, bad: { value: "x", type: "INTEGER" } })).toEqual({
    ratio: { value: "1.5", type: "STRING", isSensitive: false },
    port: { value: "8080", type: "STRING", isSensitive: false },
    n: { value: 42, type: "INTEGER", isSensitive: false },
    flag: { value: false, type: "BOOLEAN", isSensitive: false },
    cfg: { value: '{"a":1}', type: "CODE", isSensitive: false },
    bad: { value: "x", type: "STRING", isSensitive: false },
  });
  expect(pluginOutputs({ pin: { $sensitive: 1.25 } })).toEqual({ pin: { value: "1.25", type: "STRING", isSensitive: true } });
});

test("finalUpdate() cuts a failure's summary to 2,000 characters without splitting a surrogate pair", () => {
  const report = new RunReport({ runUuid: "r", implementationType: "MANUAL", behavior: "APPLY", async: false, mainStep: { id: "manual", displayName: "Manual" }, inputs: [] });
  const message = `${"a".repeat(SUMMARY_MAX - 2)}${"😀".repeat(10)}`;
  const { body } = finalUpdate(report, { status: "failed", error: { code: "plugin_error", message }, startedAt: 0, finishedAt: 0 }, { logTail: "", currentStep: report.mainStep });
  expect(typeof body.summary).toBe("string");
  expect(hasLoneSurrogate(body.summary as string)).toBe(false);
  expect((body.summary as string).length).toBeLessThanOrEqual(SUMMARY_MAX);
});

test("pluginOutputs() passes on at most 1,000 outputs and leaves out a key over 256 characters", () => {
  const many = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`o${i}`, i]));
  expect(Object.keys(pluginOutputs(many))).toHaveLength(1000);
  expect(Object.keys(pluginOutputs({ [`k${"x".repeat(256)}`]: 1, [`k${"x".repeat(255)}`]: 2 }))).toEqual([`k${"x".repeat(255)}`]);
});
