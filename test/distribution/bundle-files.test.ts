// The Node/Deno bundle's directory holds this build's files only: a release packs all of
// dist/node (scripts/release.ts), and the plugin worker's chunks are named by their hash.

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "../..");
const bundleDir = join(root, "dist/node");

test("a bundle build leaves no chunk of an earlier build in dist/node", () => {
  mkdirSync(join(bundleDir, "worker-chunks"), { recursive: true });
  const stale = join(bundleDir, "worker-chunks/plugin-runtime-STALE000.mjs");
  writeFileSync(stale, "export {};\n");
  const built = spawnSync(process.execPath, ["scripts/build.ts", "--skip-compile"], { cwd: root, encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  expect(existsSync(stale)).toBe(false);
  const chunks = readdirSync(join(bundleDir, "worker-chunks")).filter((f) => f.endsWith(".mjs"));
  // What the entry imports is there.
  expect(chunks.length).toBeGreaterThan(0);
  expect(readdirSync(bundleDir)).toEqual(expect.arrayContaining(["edge-runner.mjs", "worker-entry.mjs"]));
}, 120_000);
