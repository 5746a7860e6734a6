import { expect, test } from "bun:test";
import { definePlugin, isPluginDefinition } from "../../src/plugins/sdk.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";

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

test("createTestContext() tells ctx.artifacts.maxBytes (100 MiB unless given) and refuses a larger artifact with storage_limit, as a runner does", async () => {
  expect(createTestContext().artifacts.maxBytes).toBe(100 * 1024 * 1024);
  const ctx = createTestContext({ artifactMaxBytes: 4 });
  expect(ctx.artifacts.maxBytes).toBe(4);
  expect((await ctx.artifacts.put("fits", "abcd")).size).toBe(4);
  const refused = await ctx.artifacts.put("big", "abcde").then(() => undefined, (error: unknown) => error as { code?: string; message?: string });
  expect(refused).toMatchObject({ code: "storage_limit", message: 'Cannot keep artifact "big": it is 5 bytes, over the limit of 4 bytes' });
  expect([...ctx.artifactsKept.keys()]).toEqual(["fits"]);
});
