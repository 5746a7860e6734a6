// The platform seam is closed: which runtime we are on, whether we are compiled, and where an
// entry module lives are asked in src/platform/ only; the rest uses its helpers and constants.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, normalize, relative } from "node:path";

const SRC = normalize(join(import.meta.dir, "../../src"));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** Runtime questions only src/platform/ may ask (comments are not code: they are skipped). */
const QUESTIONS: Array<[RegExp, string]> = [
  [/globalThis\s*as\s*\{\s*(Bun|Deno)\b|globalThis\.(Bun|Deno)\b/, "reads globalThis.Bun or globalThis.Deno"],
  [/import\.meta\.url\.(endsWith|includes)\(/, "asks how its own module URL looks (source, compiled, bundle)"],
  [/\$bunfs/, "asks whether it is compiled"],
  [/"__plugin-host"/, 'spells out "__plugin-host" instead of PLUGIN_HOST_COMMAND'],
];

test("outside src/platform/, no file asks which runtime or build it is in", () => {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file);
    if (rel.startsWith("platform/")) continue;
    const code = readFileSync(file, "utf8").split("\n").filter((line) => !/^\s*(\/\/|\*|\/\*)/.test(line)).join("\n");
    for (const [pattern, what] of QUESTIONS) if (pattern.test(code)) found.push(`${rel} ${what}`);
  }
  expect(found).toEqual([]);
});
