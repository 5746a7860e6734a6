import { expect, test } from "bun:test";
import { builtinSource, parsePluginRef, sourceKey, sourceLabel } from "../../src/plugins/plugin-ref.ts";

test("parsePluginRef() reads a name with or without a version", () => {
  expect(parsePluginRef("echo")).toEqual({ name: "echo" });
  expect(parsePluginRef("shell@1.2.0")).toEqual({ name: "shell", version: "1.2.0" });
  expect(parsePluginRef("my-plugin@2.0.0-rc.1+build.5")).toEqual({ name: "my-plugin", version: "2.0.0-rc.1+build.5" });
});

test("parsePluginRef() rejects malformed references with input_invalid and quotes them", () => {
  for (const bad of ["", "Echo", "echo@", "@1.0", "../etc/passwd", "a b", "echo@1@2"]) {
    expect(() => parsePluginRef(bad)).toThrow(`Cannot use plugin "${bad}"`);
  }
  try {
    parsePluginRef("x/y");
  } catch (error) {
    expect((error as { code?: string }).code).toBe("input_invalid");
  }
});

test("builtinSource() knows the built-ins (echo, http, shell) and ignores the version", () => {
  expect(builtinSource({ name: "echo", version: "9.9.9" })).toEqual({ kind: "builtin", name: "echo" });
  expect(builtinSource({ name: "http" })).toEqual({ kind: "builtin", name: "http" });
  expect(builtinSource({ name: "hello" })).toBeUndefined();
  expect(builtinSource({ name: "shell", version: "1.0.0" })).toEqual({ kind: "builtin", name: "shell" });
});

test("sourceKey() and sourceLabel() group bundles by file and show name@version", () => {
  const bundle = { kind: "bundle", name: "shell", version: "1.2.0", path: "/cache/shell-1.2.0.mjs" } as const;
  expect(sourceKey(bundle)).toBe("bundle:/cache/shell-1.2.0.mjs");
  expect(sourceLabel(bundle)).toBe("shell@1.2.0");
  expect(sourceLabel({ kind: "builtin", name: "echo" })).toBe("echo");
});
