// `edge-runner plugin init`: the SDK it writes is the runner's own (generated, kept current), the
// project it writes type-checks, and bad names or a non-empty folder are refused.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pluginCommand } from "../../src/cli/plugin-command.ts";
import { SDK_DTS, SDK_JS } from "../../src/cli/plugin-sdk-files.ts";
import { authorSdkSources, sdkFilesModule } from "../../scripts/gen-author-sdk.ts";

const root = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-plugin-init-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function init(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  const quiet = process.stdout.write.bind(process.stdout);
  let stderr = "";
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return { code: await pluginCommand.run(["init", ...args]), stderr };
  } finally {
    process.stderr.write = write;
    process.stdout.write = quiet;
  }
}

// scripts/build.ts regenerates src/cli/plugin-sdk-files.ts before compiling, so the executable
// always carries the SDK of its source; this checks what the generator makes of it.
test("authorSdkSources() makes one self-contained ESM file and one declaration file of the SDK", async () => {
  const { js, dts } = await authorSdkSources();
  expect(sdkFilesModule({ js, dts })).toContain("export const SDK_DTS = ");
  expect(dts).toContain("export declare function definePlugin(");
  expect(dts).not.toMatch(/^import /m);
  expect(js).not.toMatch(/from "\.\.?\//);
  expect(SDK_JS).toContain("function definePlugin(");
  expect(SDK_JS).toContain("function createTestContext(");
  expect(SDK_DTS).toContain("export declare function createTestContext(options?: TestContextOptions): TestContext;");
  expect(SDK_DTS).not.toMatch(/^import /m);
}, 60_000);

test("plugin init writes a project that type-checks with its own tsconfig and the SDK's declarations", async () => {
  const project = path.join(dir, "typed");
  expect((await init(["typed", "--dir", project])).code).toBe(0);
  expect(readFileSync(path.join(project, "sdk/edge-runner-plugin.d.ts"), "utf8")).toMatch(/^\/\/ edge-runner plugin SDK, written by `edge-runner plugin init` \(edge-runner \d/);
  const tsc = spawnSync(path.join(root, "node_modules/.bin/tsc"), ["-p", project], { encoding: "utf8" });
  expect(tsc.stdout + tsc.stderr).toBe("");
  expect(tsc.status).toBe(0);
  // A type error in the plugin is caught: the declarations are not `any`.
  writeFileSync(path.join(project, "src/bad.ts"), 'import { definePlugin } from "../sdk/edge-runner-plugin.js";\nexport default definePlugin({ name: "x", version: 1, actions: {} });\n');
  const bad = spawnSync(path.join(root, "node_modules/.bin/tsc"), ["-p", project], { encoding: "utf8" });
  expect(bad.stdout).toContain("src/bad.ts");
}, 60_000);

test("plugin init refuses a bad name (64) and a folder that is not empty, and --sdk-only rewrites only the SDK", async () => {
  const bad = await init(["Hello World"]);
  expect(bad.code).toBe(64);
  expect(bad.stderr).toContain('Cannot create plugin project "Hello World": a plugin name is lowercase letters');
  const busy = path.join(dir, "busy");
  mkdirSync(busy);
  writeFileSync(path.join(busy, "keep.txt"), "mine");
  const refused = await init(["busy", "--dir", busy]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("exists and is not empty");
  expect((await init(["--sdk-only", "--dir", busy])).code).toBe(0);
  expect(readFileSync(path.join(busy, "keep.txt"), "utf8")).toBe("mine");
  expect(readFileSync(path.join(busy, "sdk/edge-runner-plugin.js"), "utf8")).toContain("function definePlugin(");
});
