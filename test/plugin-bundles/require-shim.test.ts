// The require() a plugin bundle gets (built-ins only) and the one rewrite of verified bytes: a
// bundle signed with an older shim line runs with the current one (review S, defect 1).

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DATA_URL_REQUIRE_SHIM, LEGACY_REQUIRE_SHIM, REQUIRE_SHIM, withCurrentRequireShim } from "../../src/plugin-bundles/require-shim.ts";
import { verifiedBundleSource } from "../../src/plugin-bundles/verified-source.ts";

const BODY = `let optional; try { optional = require("bufferutil"); } catch (e) { optional = "fallback:" + e.code; }
export default { optional, fs: typeof require("fs").readFileSync, nodeFs: typeof require("node:fs").readFileSync, resolved: require.resolve("node:path") };`;
const EXPECTED = { optional: "fallback:MODULE_NOT_FOUND", fs: "function", nodeFs: "function", resolved: "node:path" };

function urlOf(text: string, digest: string): string {
  const source = verifiedBundleSource({ name: "x", version: "1", digest, bytes: new TextEncoder().encode(text) });
  if (source.kind !== "bundle") throw new Error("not a bundle source");
  return source.url;
}

const decoded = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

describe("REQUIRE_SHIM", () => {
  test("REQUIRE_SHIM's require() loads built-ins (bare and node:) and refuses anything else with MODULE_NOT_FOUND", async () => {
    expect((await import(urlOf(`${REQUIRE_SHIM}\n${BODY}`, "sha256:shim-1"))).default).toEqual(EXPECTED);
  });

  test("REQUIRE_SHIM is one line (an esbuild banner) and ends a statement", () => {
    expect(REQUIRE_SHIM).not.toContain("\n");
    expect(REQUIRE_SHIM.endsWith(";")).toBe(true);
  });
});

describe("withCurrentRequireShim()", () => {
  test("withCurrentRequireShim() puts the current shim in place of either older one, and changes nothing else", () => {
    for (const old of [LEGACY_REQUIRE_SHIM, DATA_URL_REQUIRE_SHIM]) {
      expect(decoded(withCurrentRequireShim(new TextEncoder().encode(`${old}\n${BODY}`)))).toBe(`${REQUIRE_SHIM}\n${BODY}`);
    }
  });

  test("withCurrentRequireShim() swaps an older shim after a hashbang line too, keeping that line (esbuild writes an entry's #! before the banner)", () => {
    for (const old of [LEGACY_REQUIRE_SHIM, DATA_URL_REQUIRE_SHIM]) {
      expect(decoded(withCurrentRequireShim(new TextEncoder().encode(`#!/usr/bin/env node\n${old}\n${BODY}`)))).toBe(`#!/usr/bin/env node\n${REQUIRE_SHIM}\n${BODY}`);
    }
  });

  test("verifiedBundleSource() runs a hashbang bundle signed with the data: URL shim with the built-in-only require()", async () => {
    expect((await import(urlOf(`#!/usr/bin/env node\n${DATA_URL_REQUIRE_SHIM}\n${BODY}`, "sha256:shim-hb"))).default).toEqual(EXPECTED);
  });

  test("withCurrentRequireShim() leaves bytes alone unless an older shim is their exact start", () => {
    const cases = [
      `${REQUIRE_SHIM}\n${BODY}`, // already current
      BODY, // no shim
      ` ${DATA_URL_REQUIRE_SHIM}\n${BODY}`, // not at offset 0
      `${DATA_URL_REQUIRE_SHIM.slice(0, -1)}\n${BODY}`, // one byte short
      DATA_URL_REQUIRE_SHIM.replace("edge-runner-plugin.mjs", "edge-runner-plugin.mjx"), // one byte changed
      DATA_URL_REQUIRE_SHIM.slice(0, 20), // shorter than any shim
      `#!/usr/bin/env node\n ${DATA_URL_REQUIRE_SHIM}\n${BODY}`, // not right after the hashbang line
      `#!/usr/bin/env node ${DATA_URL_REQUIRE_SHIM}`, // on the hashbang line itself (a comment there)
    ];
    for (const text of cases) expect(decoded(withCurrentRequireShim(new TextEncoder().encode(text)))).toBe(text);
  });

  test("verifiedBundleSource() runs a bundle signed with the data: URL shim with the built-in-only require()", async () => {
    expect((await import(urlOf(`${DATA_URL_REQUIRE_SHIM}\n${BODY}`, "sha256:shim-2"))).default).toEqual(EXPECTED);
  });
});

// Node is where HOME is searched: import the data: URL a runner builds from an already signed
// bundle, under Node, with HOME holding a planted module, in a Worker like the runner's.
const node = spawnSync("node", ["--version"]).status === 0;
describe("verifiedBundleSource() under Node", () => {
  test.skipIf(!node)("verifiedBundleSource() of a bundle signed with the data: URL shim never loads $HOME/.node_modules under Node", () => {
    const home = mkdtempSync(path.join(tmpdir(), "er-shim-home-"));
    const marker = path.join(home, "PWNED");
    mkdirSync(path.join(home, ".node_modules", "bufferutil"), { recursive: true });
    writeFileSync(path.join(home, ".node_modules", "bufferutil", "index.js"), `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran"); module.exports = "attacker";`);
    const url = urlOf(`${DATA_URL_REQUIRE_SHIM}\n${BODY}`, "sha256:shim-3");
    const script = `const { Worker } = require("node:worker_threads");
const w = new Worker("const { parentPort, workerData } = require('node:worker_threads'); import(workerData).then((m) => parentPort.postMessage(m.default), (e) => parentPort.postMessage(String(e)));", { eval: true, workerData: ${JSON.stringify(url)} });
w.on("message", (m) => { console.log(JSON.stringify(m)); w.terminate(); });`;
    const run = spawnSync("node", ["-e", script], { env: { ...process.env, HOME: home }, encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual(EXPECTED);
    expect(existsSync(marker)).toBe(false);
  });
});
