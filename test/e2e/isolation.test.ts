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

test("compiled binary: a faulty plugin in process isolation fails only its run, with its code", async () => {
  const { build } = await import("esbuild");
  const faults = path.join(dir, "faults.mjs");
  await build({ entryPoints: [path.join(root, "test/plugins/fixtures/faults.ts")], bundle: true, platform: "node", format: "esm", outfile: faults, logLevel: "warning" });
  const expected: Record<string, string> = { uncaught: "plugin_error", unhandled: "plugin_error", throw: "plugin_error", exit: "plugin_exit" };
  for (const [action, code] of Object.entries(expected)) {
    const { code: exit, output } = await runToEnd(FLAVOURS[0] as Flavour, ["plugin", "run", faults, "--action", action, "--name", "faults", "--version", "0.0.1", "--isolation", "process"], { cwd: dir });
    expect(output).toContain(`failed: ${code}:`);
    expect(exit).not.toBe(0);
    expect(exit).not.toBe(70); // the host process itself did not crash
  }
}, 60_000);
