import { expect, test } from "bun:test";
import { builtinSource, parsePluginRef, sourceKey, sourceLabel, fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { verifiedBundleSource } from "../../src/plugin-bundles/verified-source.ts";

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

test("sourceKey() and sourceLabel() group bundles by id (digest or file) and show name@version", () => {
  const bundle = fileBundleSource("/cache/shell-1.2.0.mjs", "shell", "1.2.0");
  expect(sourceKey(bundle)).toBe("bundle:/cache/shell-1.2.0.mjs");
  const verified = verifiedBundleSource({ name: "shell", version: "1.2.0", digest: "sha256:abc", bytes: new TextEncoder().encode("export default 1") });
  expect(sourceKey(verified)).toBe("bundle:sha256:abc");
  expect(verified.kind === "bundle" && verified.url).toBe(`data:text/javascript;base64,${btoa("export default 1")}`);
  expect(sourceLabel(bundle)).toBe("shell@1.2.0");
  expect(sourceLabel({ kind: "builtin", name: "echo" })).toBe("echo");
});
