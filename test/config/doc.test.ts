import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { configurationDoc } from "../../src/config/doc.ts";

test("configurationDoc() matches docs/configuration.md (run: bun scripts/gen-config-doc.ts)", () => {
  const onDisk = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
  expect(onDisk).toBe(configurationDoc());
});
