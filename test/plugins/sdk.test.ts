import { expect, test } from "bun:test";
import { definePlugin, isPluginDefinition } from "../../src/plugins/sdk.ts";

test("definePlugin() returns a frozen definition", () => {
  const plugin = definePlugin({ name: "demo", version: "1.0.0", actions: { default: (input) => input } });
  expect(Object.isFrozen(plugin)).toBe(true);
  expect(Object.isFrozen(plugin.actions)).toBe(true);
  expect(isPluginDefinition(plugin)).toBe(true);
});

test("definePlugin() names the first bad field", () => {
  expect(() => definePlugin({ name: "Bad Name", version: "1", actions: { a: () => 1 } })).toThrow('Cannot define plugin "Bad Name": name must match');
  expect(() => definePlugin({ name: "demo", version: "", actions: { a: () => 1 } })).toThrow("version must be a non-empty string");
  expect(() => definePlugin({ name: "demo", version: "1", actions: {} })).toThrow("actions must name at least one function");
  expect(() => definePlugin({ name: "demo", version: "1", actions: { a: 1 as never } })).toThrow('action "a" is not a function');
});

test("isPluginDefinition() rejects values that are not plugins", () => {
  for (const value of [null, undefined, 1, "echo", {}, { name: "x", version: "1" }, { name: "x", version: "1", actions: null }]) {
    expect(isPluginDefinition(value)).toBe(false);
  }
});
