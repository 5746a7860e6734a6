// .ci/run runs exactly the README's test command: no environment of its own (a test that needs
// one to fit CI must fit `npm test` as a reader runs it), and it ends with "N passed, N failed".

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";

const root = new URL("../..", import.meta.url).pathname;

test(".ci/run runs the README's test command and sets no environment for it", () => {
  const readme = readFileSync(`${root}README.md`, "utf8");
  expect(readme).toContain("npm ci && npm test");
  const script = readFileSync(`${root}.ci/run`, "utf8");
  const commands = script.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  expect(commands.filter((l) => /^npm /.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual(["npm ci", "npm test"]);
  // No exported variable and no VAR=value prefix before a command.
  expect(commands.filter((l) => /^(export\s|[A-Z_][A-Z0-9_]*=\S*\s+npm\b)/.test(l))).toEqual([]);
  expect(script).toContain('echo "${passed} passed, ${failed} failed"');
});
