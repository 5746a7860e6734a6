// Outputs as meshStack takes them: a sensitive job output (ctx.outputs.set(name, value,
// {sensitive: true}), which the job path carries as {"$sensitive": value}) goes with its real
// value and isSensitive, as meshcloud's runner sends Terraform's sensitive outputs.

import { expect, test } from "bun:test";
import { pluginOutputs } from "../../src/controller/meshstack/final-status.ts";

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
