// The pool's fault matrix under every runtime the product ships on: the esbuild bundle under
// Node and Deno (laid out like dist/node/), and a `bun build --compile` binary run from outside
// the checkout. The runtimes differ in how a Worker reports faults; the outcomes must not.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "edge-runner-plugins-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const COMMON = [
  "echo.default=succeeded:", "faults.throw=failed:plugin_error", "faults.unhandled=failed:plugin_error",
  "faults.uncaught=failed:plugin_error", "faults.exit=failed:plugin_exit", "faults.loop=timed_out:plugin_timeout",
  "faults.ok=succeeded:",
];

let bundled: Promise<string> | undefined;
/** Bundles the probe like scripts/build.ts bundles src/main.ts: worker-entry.mjs beside it. */
function bundle(): Promise<string> {
  bundled ??= build({
    absWorkingDir: root,
    entryPoints: { "edge-runner": "test/plugins/support/pool-probe.ts", "worker-entry": "src/plugins/worker-entry.ts", faults: "test/plugins/fixtures/faults.ts" },
    outdir: join(work, "node"), outExtension: { ".js": ".mjs" }, bundle: true, platform: "node", target: "node20", format: "esm",
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
    logLevel: "warning",
  }).then(() => join(work, "node"));
  return bundled;
}

function probe(command: string, args: string[]): { results: string[]; workersAfterClose: number; pipeline?: unknown } {
  const run = spawnSync(command, args, { cwd: tmpdir(), encoding: "utf8", timeout: 60_000 });
  if (run.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}");
}

const deno = join(root, "node_modules/.bin/deno");
const hasNode = spawnSync("node", ["--version"]).status === 0;

test.skipIf(!hasNode)("PluginPool under Node (esbuild bundle) contains every fault, heap blow-up included", async () => {
  const dir = await bundle();
  const out = probe("node", [join(dir, "edge-runner.mjs"), join(dir, "faults.mjs"), "memory"]);
  expect(out).toEqual({ results: [...COMMON, "faults.memory=failed:plugin_crashed", "faults.ok=succeeded:"], workersAfterClose: 0 });
}, 60_000);

test.skipIf(!existsSync(deno))("PluginPool under Deno (esbuild bundle) contains every fault, heap blow-up included", async () => {
  const dir = await bundle();
  const out = probe(deno, ["run", "-A", join(dir, "edge-runner.mjs"), join(dir, "faults.mjs"), "memory"]);
  expect(out.results.slice(0, COMMON.length)).toEqual(COMMON);
  // Deno 2.x: a worker that hits its heap limit inside a message handler stops without an
  // 'error' or 'exit' event, so the job's timeout ends it (and terminate() works). Either way
  // only that job fails and the next one succeeds.
  expect(["faults.memory=failed:plugin_crashed", "faults.memory=timed_out:plugin_timeout"]).toContain(out.results[COMMON.length] ?? "");
  expect(out.results.at(-1)).toBe("faults.ok=succeeded:");
  expect(out.workersAfterClose).toBe(0);
}, 60_000);

// Short runs wait behind busy workers; the claim slots are shared memory on every runtime.
const PIPELINE = { woken: 2, burst: Array.from({ length: 8 }, () => "succeeded"), behind: "succeeded", stuck: "timed_out" };

test.skipIf(!hasNode)("PluginPool under Node (esbuild bundle) queues short runs behind busy workers and takes one back from behind a stuck run", async () => {
  const dir = await bundle();
  process.env.PROBE_CASES = "faults.ok";
  try {
    expect(probe("node", [join(dir, "edge-runner.mjs"), join(dir, "faults.mjs"), "pipeline"])).toEqual({ results: ["faults.ok=succeeded:"], workersAfterClose: 0, pipeline: PIPELINE });
  } finally {
    delete process.env.PROBE_CASES;
  }
}, 60_000);

test.skipIf(!existsSync(deno))("PluginPool under Deno (esbuild bundle) queues short runs behind busy workers and takes one back from behind a stuck run", async () => {
  const dir = await bundle();
  process.env.PROBE_CASES = "faults.ok";
  try {
    expect(probe(deno, ["run", "-A", join(dir, "edge-runner.mjs"), join(dir, "faults.mjs"), "pipeline"])).toEqual({ results: ["faults.ok=succeeded:"], workersAfterClose: 0, pipeline: PIPELINE });
  } finally {
    delete process.env.PROBE_CASES;
  }
}, 60_000);

test("PluginPool in a compiled Bun binary finds its embedded worker entry from any directory", () => {
  // Same entrypoint layout as scripts/build.ts (src/main.ts + WORKER_ENTRIES), with the probe as main.
  const tree = join(work, "compile");
  mkdirSync(join(tree, "test/plugins"), { recursive: true });
  cpSync(join(root, "src"), join(tree, "src"), { recursive: true });
  cpSync(join(root, "test/plugins/support"), join(tree, "test/plugins/support"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
  writeFileSync(join(tree, "src/main.ts"), 'import "../test/plugins/support/pool-probe.ts";\n');
  const binary = join(work, "probe-bin");
  const compiled = spawnSync(process.execPath, ["build", "--compile", "src/main.ts", "src/plugins/worker-entry.ts", `--outfile=${binary}`], { cwd: tree, encoding: "utf8" });
  expect(compiled.status).toBe(0);
  // Remove the sources so the binary cannot fall back to files on disk.
  rmSync(tree, { recursive: true, force: true });
  expect(probe(binary, [join(root, "test/plugins/fixtures/faults.ts")])).toEqual({ results: COMMON, workersAfterClose: 0 });
}, 60_000);
