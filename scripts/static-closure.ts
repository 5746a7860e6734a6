// What a module loads when it is imported, from esbuild's metafile: its inputs reachable through
// static imports only. A dynamic import() is a chunk of its own in the executable, loaded only
// when it runs, so it is not followed (scripts/run-world.ts; test/helpers/import-graph.ts).

import type { Metafile } from "esbuild";

/** Every input reachable from `entry` through static imports (paths relative to the root, node_modules/… included). */
export function staticClosure(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const edge of meta.inputs[file]?.imports ?? []) if (edge.kind !== "dynamic-import" && edge.external !== true) stack.push(edge.path);
  }
  return seen;
}
