// What a module loads when it is imported: esbuild's metafile of an entry point, walked along
// static imports only (import statements, require). A dynamic import() is a chunk of its own in
// the executable (scripts/build.ts, --splitting), loaded only when it runs, so it is not followed.

import { build, type Metafile } from "esbuild";

const root = new URL("../..", import.meta.url).pathname;

/** The metafile of `entry` (a path relative to the repository root). */
export async function metafileOf(entry: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    outdir: "/tmp/edge-runner-import-graph",
    logLevel: "silent",
    define: { __EDGE_RUNNER_VERSION__: '"0"', __EDGE_RUNNER_COMMIT__: '"test"' },
  });
  return result.metafile;
}

export { staticClosure } from "../../scripts/static-closure.ts";

/** The runtime's built-in modules (node:… without the prefix) those files import statically. */
export function builtins(meta: Metafile, files: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const file of files) for (const edge of meta.inputs[file]?.imports ?? []) if (edge.kind !== "dynamic-import" && edge.external === true) out.add(edge.path.replace(/^node:/, ""));
  return out;
}
