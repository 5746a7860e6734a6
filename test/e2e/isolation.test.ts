// Process isolation on every shipped runtime: `plugin run --isolation process` starts the plugin
// host as a child of the same executable (compiled binary, bundle on Node, bundle on Deno).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLAVOURS, assertBuilt, runToEnd, type Flavour } from "../helpers/processes.ts";

const root = new URL("../..", import.meta.url).pathname;
let dir: string;
let bundle: string;

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-isolation-"));
  const built = await runToEnd(FLAVOURS[0] as Flavour, ["plugin", "build", path.join(root, "examples/hello-plugin/index.ts"), "--out", dir]);
  expect(built.code).toBe(0);
  bundle = path.join(dir, "hello-1.0.0.mjs");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const flavour of FLAVOURS) {
  for (const isolation of ["thread", "process"] as const) {
    test(`${flavour.name}: plugin run --isolation ${isolation} runs the example plugin`, async () => {
      const { code, output } = await runToEnd(flavour, ["plugin", "run", bundle, "--action", "greet", "--input", "name=Ada", "--isolation", isolation], { cwd: dir });
      expect(output).toContain("Hello, Ada!");
      expect(code).toBe(0);
    }, 60_000);
  }
}
