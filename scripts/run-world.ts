// The `run` command's own copy of its code for the executable, so a runner's start loads two
// chunks instead of ~27. Bun's --splitting cuts a module graph by which entries reach each
// module; `run`'s static closure (~100 modules) is shared in ~25 different combinations with the
// other commands and with `run`'s own lazy imports, so `run` fetched and linked ~27 chunks, 16 of
// them under 1 KB (docs/performance.md, start-up, fourth pass). Bun has no manual chunking, so
// scripts/build.ts pre-bundles `run` here with esbuild and compiles main.ts with `run`'s entry
// pointed at the result (runWorldRedirect).
//
// What keeps module state whole: a `run` process loads the entry's static closure (main.ts, the
// command table, errors, config, redaction) and nothing else but this world. That closure stays
// external here (the same modules as main's), so a ConfigError thrown in `run` is still the
// class main.ts checks, and a secret `run` registers is in the one process redaction scope.
// Every other module `run` can load, at start or lazily, is in this world exactly once; the
// other commands keep their own copies and never run in the same process as `run`.
//
// Inside the world every lazily imported module also imports run-command.ts (it is loaded by
// then anyway), so esbuild puts all of `run`'s static closure in one chunk instead of cutting
// it again by which lazy module shares which part. The lazy modules stay lazy: the S3, Vault,
// GCP and integration code is still its own chunk, loaded at its dynamic import().

import { build, type Metafile, type Plugin } from "esbuild";
import { readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import type { BunPlugin } from "bun";
import { staticClosure } from "./static-closure.ts";

const RUN_COMMAND = "src/cli/run-command.ts";
const COMMAND_TABLE = "src/cli/main.ts";
const LAZY = "run-world-lazy";

export interface RunWorld {
  /** The world's entry (ESM), what `import("./run-command.ts")` loads in the executable. */
  entry: string;
  metafile: Metafile;
}

/** The static closure of src/main.ts: what every command has loaded before its own module. */
async function entryClosure(root: string): Promise<Set<string>> {
  const { metafile } = await build({
    absWorkingDir: root, entryPoints: ["src/main.ts"], bundle: true, platform: "node", format: "esm",
    write: false, metafile: true, outdir: path.join(root, "dist/.entry-closure"), logLevel: "silent",
  });
  return new Set([...staticClosure(metafile, "src/main.ts")].map((file) => path.join(root, file)));
}

/**
 * Bundles `run` into `outdir` (ESM chunks; Bun compiles them with the rest). Packages other than
 * hono stay bare imports that Bun resolves as it does for every other command, so `outdir` must
 * be inside the repository (under its node_modules).
 */
export async function buildRunWorld(root: string, outdir: string, define: Record<string, string> = {}): Promise<RunWorld> {
  const shared = await entryClosure(root);
  const runCommand = path.join(root, RUN_COMMAND);
  const plugin: Plugin = {
    name: "run-world",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.namespace === LAZY && args.kind !== "dynamic-import") return undefined;
        const spec = args.path;
        if (!spec.startsWith(".") && !spec.startsWith("/")) {
          // hono is bundled (its parts are most of the status server `run` starts); the rest of
          // node_modules is lazy in `run` and stays one copy for the whole executable.
          if (!(spec === "hono" || spec.startsWith("hono/"))) return { path: spec, external: true };
          return args.kind === "dynamic-import" ? { path: spec, namespace: LAZY } : undefined;
        }
        const file = spec.startsWith("/") ? spec : path.resolve(args.resolveDir, spec);
        if (shared.has(file)) return { path: file, external: true };
        return args.kind === "dynamic-import" ? { path: file, namespace: LAZY } : undefined;
      });
      // A lazy module, as its importer sees it: itself, plus run-command.ts (already loaded).
      // `export *` leaves out a default export, so one is named when the module has it.
      b.onLoad({ filter: /.*/, namespace: LAZY }, (args) => {
        const from = JSON.stringify(args.path);
        const source = args.path.startsWith("/") ? readFileSync(args.path, "utf8") : "";
        const named = /^export default |^export \{[^}]*\bdefault\b/m.test(source) ? `export { default } from ${from};\n` : "";
        return { contents: `import ${JSON.stringify(runCommand)};\nexport * from ${from};\n${named}`, resolveDir: root, loader: "js" };
      });
    },
  };
  rmSync(outdir, { recursive: true, force: true });
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: { "run-command": runCommand },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "esnext",
    // As Bun resolves packages for the executable.
    conditions: ["bun"],
    mainFields: ["module", "main"],
    define,
    metafile: true,
    plugins: [plugin],
    logLevel: "warning",
  });
  return { entry: path.join(outdir, "run-command.js"), metafile };
}

/** Points the command table's `import("./run-command.ts")` at the world's entry. */
export function runWorldRedirect(root: string, world: RunWorld): BunPlugin {
  const table = path.join(root, COMMAND_TABLE);
  return {
    name: "run-world-redirect",
    setup(b) {
      b.onResolve({ filter: /\/run-command\.ts$/ }, (args) => (args.importer === table ? { path: world.entry } : undefined));
    },
  };
}
