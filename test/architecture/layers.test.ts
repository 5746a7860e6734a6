// Layers point one way: a file may import from its own layer or a lower one, never a higher one.
// The order is written down in docs/architecture.md ("Layers"); this test keeps the code to it.
// The most specific folder wins (src/secrets/redaction/ sits below the rest of src/secrets/).

import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const SRC = normalize(join(import.meta.dir, "../../src"));

/** Highest first. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ["main.ts", "cli/"],
  ["ops/"],
  ["reference-controller/"],
  ["status/"],
  ["runner/"],
  ["controller/", "plugin-bundles/"],
  ["plugins/"],
  ["secrets/", "storage/", "artifacts/"],
  ["log/", "platform/", "config/"],
  ["secrets/redaction/", "protocol/", "util/", "errors.ts", "version.ts"],
];

function layerOf(file: string): number {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((prefixes, index) => {
    for (const prefix of prefixes) {
      if ((file === prefix || file.startsWith(prefix)) && prefix.length > bestLength) {
        best = index;
        bestLength = prefix.length;
      }
    }
  });
  return best;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Relative specifiers of static imports, re-exports and dynamic import() calls. */
function imports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm)) out.push(m[1]!);
  return out;
}

test("every file under src/ belongs to a layer", () => {
  const unplaced = sourceFiles(SRC).map((f) => relative(SRC, f)).filter((f) => layerOf(f) < 0);
  expect(unplaced).toEqual([]);
});

test("no file imports from a higher layer", () => {
  const violations: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    for (const spec of imports(readFileSync(file, "utf8"))) {
      const target = normalize(join(dirname(file), spec));
      if (!target.startsWith(SRC) || !existsSync(target)) continue; // e.g. a template's text, not an import
      const to = relative(SRC, target);
      if (layerOf(to) < layerOf(from)) violations.push(`${from} imports ${to} (layer ${layerOf(to)} is above ${layerOf(from)})`);
    }
  }
  expect(violations).toEqual([]);
});

test("the layer check sees a violation when there is one", () => {
  expect(layerOf("plugins/pool.ts")).toBeGreaterThan(layerOf("status/app.ts"));
  expect(layerOf("secrets/redaction/redaction-scope.ts")).toBeGreaterThan(layerOf("log/logger.ts"));
  expect(layerOf("secrets/key-ring.ts")).toBeLessThan(layerOf("log/logger.ts"));
  expect(imports(`import type { A } from "../status/snapshot.ts";\nexport { B } from "./b.ts";\nconst c = await import("../c.ts");`)).toEqual(["../status/snapshot.ts", "./b.ts", "../c.ts"]);
});
