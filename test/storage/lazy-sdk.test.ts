// A runner on the local backend must never load the S3 SDK: it is reachable from the run command (src/cli/run-command.ts) only
// through a dynamic import() (open-store.ts). This walks the static (value) imports from the
// entry point and fails if @aws-sdk/* or the S3 backend is among them.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm;

function staticGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.endsWith(".ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(STATIC_IMPORT)) {
      const spec = match[1] as string;
      stack.push(spec.startsWith(".") ? resolve(dirname(file), spec) : spec);
    }
  }
  return seen;
}

test("the S3 backend and @aws-sdk are only reachable from the run command through a dynamic import", () => {
  const graph = [...staticGraph(resolve(root, "src/cli/run-command.ts"))];
  expect(graph.filter((m) => m.startsWith("@aws-sdk/") || m.endsWith("/s3-store.ts") || m.endsWith("/multipart.ts"))).toEqual([]);
  // The walk itself works: the local backend is statically reachable.
  expect(graph.some((m) => m.endsWith("src/storage/local-store.ts"))).toBe(true);
});

test("open-store.ts loads the S3 backend with import()", () => {
  const text = readFileSync(resolve(root, "src/storage/open-store.ts"), "utf8");
  expect(text).toContain('await import("./s3-store.ts")');
});
