// Builds the executable (`dist/edge-runner`, bun build --compile) and the ESM bundle that runs
// the same CLI under Node and Deno (`dist/node/edge-runner.mjs`). Run with: bun scripts/build.ts
// Options: --target=bun-linux-arm64 (cross-compile), --outfile=PATH, --skip-bundle, --skip-compile.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { buildRunWorld, runWorldRedirect } from "./run-world.ts";
import { BYTECODE_ORDER_DIR, BYTECODE_ORDER_FILES } from "./record-bytecode-order.ts";
import { REQUIRE_SHIM } from "../src/plugin-bundles/require-shim.ts";

const root = new URL("..", import.meta.url).pathname;
const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k as string, v ?? "true"] as const;
  }),
);

// EDGE_RUNNER_BUILD_VERSION overrides package.json's version (test releases of other versions).
const version = process.env.EDGE_RUNNER_BUILD_VERSION || (JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { version: string }).version;
let commit = process.env.EDGE_RUNNER_BUILD_COMMIT ?? "";
if (commit === "") {
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" }).trim();
    if (dirty !== "") commit += "-dirty";
  } catch {
    commit = "unknown";
  }
}
const define = {
  __EDGE_RUNNER_VERSION__: JSON.stringify(version),
  __EDGE_RUNNER_COMMIT__: JSON.stringify(commit),
};

/**
 * The executable's main thread starts with JavaScriptCore's tier-up thresholds ×16: the run-once
 * code of a start (config, keys, the first session) stays in the interpreter instead of waking the
 * JIT's threads and paging in its code. `run` and `controller` restore the normal policy once
 * ready (src/platform/runtime.ts, endStartupJitPolicy); short commands keep it to their end.
 */
export const STARTUP_JIT_POLICY = 16;

/** Every Worker entry must be an extra entrypoint of the compiled binary (Bun embeds only those). */
export const WORKER_ENTRIES = ["src/plugins/worker-entry.ts"];

mkdirSync(`${root}/dist/node`, { recursive: true });

// The plugin SDK that `plugin init` writes is embedded as strings; regenerate them from the
// source first so the executable never ships a stale SDK (commit the file if it changed).
{
  const { authorSdkSources, sdkFilesModule, SDK_FILES_MODULE } = await import("./gen-author-sdk.ts");
  const text = sdkFilesModule(await authorSdkSources());
  if (readFileSync(SDK_FILES_MODULE, "utf8") !== text) {
    writeFileSync(SDK_FILES_MODULE, text);
    console.log(`regenerated ${SDK_FILES_MODULE} (the plugin SDK changed): commit it`);
  }
}

/** The recorded profiles that exist, most important start first. */
function bytecodeOrder(): string[] | false {
  const files = BYTECODE_ORDER_FILES.map((name) => `${BYTECODE_ORDER_DIR}/${name}`).filter((file) => existsSync(file));
  return files.length > 0 ? files : false;
}

if (args.get("skip-compile") !== "true") {
  const outfile = args.get("outfile") ?? `${root}/dist/edge-runner`;
  const target = args.get("target");
  const started = performance.now();
  // `run` is compiled from its own pre-bundled copy, so a runner's start loads two chunks of its
  // code instead of ~27 (scripts/run-world.ts; docs/performance.md, start-up, fourth pass).
  const world = await buildRunWorld(root, `${root}/dist/run-world`, define);
  const result = await Bun.build({
    entrypoints: ["src/main.ts", ...WORKER_ENTRIES].map((entry) => `${root}/${entry}`),
    // Each dynamically imported command and backend becomes its own chunk inside the executable,
    // loaded only when imported, so `--version` and an idle `run` never read the S3, Vault, GCP
    // or integration code (docs/performance.md, start-up).
    splitting: true,
    minify: true,
    bytecode: true,
    format: "esm",
    target: "bun",
    define,
    plugins: [runWorldRedirect(root, world)],
    compile: {
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      jitPolicy: STARTUP_JIT_POLICY,
      // The bytecode a recorded start used goes first in the executable, so a start touches fewer
      // of its pages (scripts/record-bytecode-order.ts; a missing profile only loses the layout).
      bytecodeOrder: bytecodeOrder(),
      ...(target !== undefined ? { target: target as Bun.Build.CompileTarget } : {}),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("bun build --compile failed");
  }
  const size = statSync(outfile).size;
  console.log(`built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB, ${version}+${commit}) in ${Math.round(performance.now() - started)} ms`);
}

if (args.get("skip-bundle") !== "true") {
  // Emptied first: the worker's chunks are named by their hash, and a release packs all of
  // dist/node, so an earlier build's chunks would ship beside this one's.
  rmSync(`${root}dist/node`, { recursive: true, force: true });
  const common = {
    absWorkingDir: root,
    outdir: "dist/node",
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: true,
    sourcemap: "linked",
    define,
    // Some dependencies still call require(); give the ESM bundle one, for built-ins only: the
    // others are optional (ws: bufferutil, utf-8-validate), and a full require() would search
    // $HOME/.node_modules, which is the data dir under the shipped units (require-shim.ts).
    banner: { js: REQUIRE_SHIM },
    logLevel: "warning",
  } as const;
  await build({ ...common, entryPoints: { "edge-runner": "src/main.ts" } });
  // The plugin thread's entry with its runtime in a chunk of its own (worker-chunks/): bundled
  // whole, the runtime's node:fs imports would be the entry's and Deno would fix their named
  // exports before the entry captures raw writes to fd 1 and 2 (src/plugins/worker-entry.ts).
  await build({ ...common, entryPoints: { "worker-entry": "src/plugins/worker-entry.ts" }, splitting: true, chunkNames: "worker-chunks/[name]-[hash]" });
  console.log(`built dist/node/edge-runner.mjs (Node ≥ 20, Deno 2)`);
}
