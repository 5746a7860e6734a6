// Docs drift (issue 14 item 9): every `edge-runner …` command line in README.md and docs/ names a
// real command and sub-command and only flags that command's --help lists; docs/cli.md is what
// the command table and the commands' --help say today; every built-in plugin and action is in
// docs/plugins.md. A failure names the file and line to fix.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/main.ts";
import { projectFiles } from "../../src/cli/plugin-template.ts";
import { BUILTIN_PLUGINS, loadBuiltin } from "../../src/plugins/builtin/index.ts";
import { inputSchemaOf } from "../../src/plugins/builtin/schemas.ts";
import { BUILTIN_DOC, builtinDoc } from "../../scripts/gen-builtin-doc.ts";
import { CLI_DOC, captureStdout, cliDoc } from "../../scripts/gen-cli-doc.ts";

const root = new URL("../..", import.meta.url).pathname;
const DOC_FILES = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

interface CommandLine {
  file: string;
  line: number;
  text: string;
  tokens: string[];
  /** Inline code (`edge-runner job submit|get`) may list alternatives with "|"; a shell line may not. */
  inline: boolean;
}

/** Every `edge-runner …` invocation in a markdown file: shell lines in code blocks, and inline code. */
function commandLines(file: string, markdown: string): CommandLine[] {
  const found: CommandLine[] = [];
  const lines = markdown.split("\n");
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const opening = /^\s*```(\w*)/.exec(raw);
    if (opening !== null) {
      fence = fence === undefined ? opening[1]! : undefined;
      continue;
    }
    if (fence !== undefined) {
      if (["text", "json", "jsonc", "ini", "yaml", "toml", "http", "promql"].includes(fence)) continue;
      let text = raw;
      const start = i;
      while (text.endsWith("\\") && i + 1 < lines.length) text = text.slice(0, -1) + " " + lines[++i]!.trim();
      for (const segment of shellSegments(text)) found.push({ file, line: start + 1, text: text.trim(), tokens: segment, inline: false });
      continue;
    }
    for (const span of raw.matchAll(/`(edge-runner [^`]+)`/g)) {
      const text = span[1]!.replaceAll("\\|", "|"); // a pipe escaped inside a markdown table
      found.push({ file, line: i + 1, text, tokens: tokenize(text).slice(1), inline: true });
    }
  }
  return found;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(/'[^']*'|"(?:[^"\\]|\\.)*"|\S+/g)) tokens.push(match[0]);
  return tokens;
}

/** The argument lists of the edge-runner invocations on one shell line (after sudo, runuser, env). */
function shellSegments(line: string): string[][] {
  const tokens = tokenize(line.replace(/(^|\s)#.*$/, "").replace(/^\s*\$\s+/, ""));
  const segments: string[][] = [];
  let current: string[] = [];
  for (const token of tokens) {
    if (["|", "||", "&&", ";", "&"].includes(token)) {
      segments.push(current);
      current = [];
    } else current.push(token);
  }
  segments.push(current);
  const out: string[][] = [];
  for (const segment of segments) {
    // `npm run -s cli -- ARGS` is the CLI from source: the same command line.
    const npm = segment.join(" ").match(/^npm run (?:-s )?cli -- /);
    if (npm !== null) {
      out.push(segment.slice(segment.indexOf("--") + 1));
      continue;
    }
    let i = 0;
    while (i < segment.length && (/^(sudo|runuser|env|time|exec|--)$/.test(segment[i]!) || /^-/.test(segment[i]!) || /^[A-Z_]+=/.test(segment[i]!) || segment[i - 1] === "-u")) i++;
    if (i < segment.length && /(^|\/)edge-runner$/.test(segment[i]!)) {
      const args = segment.slice(i + 1);
      const end = args.findIndex((t) => /^(>|>>|<|2>&1|2>|1>)/.test(t));
      out.push(end === -1 ? args : args.slice(0, end));
    }
  }
  return out;
}

const helpCache = new Map<string, Promise<string>>();
const helpOf = (name: string) => {
  let help = helpCache.get(name);
  if (help === undefined) helpCache.set(name, (help = captureStdout([name, "--help"])));
  return help;
};

async function problemsOf(cmd: CommandLine): Promise<string[]> {
  const where = `${cmd.file}:${cmd.line}: "${cmd.text.length > 120 ? cmd.text.slice(0, 117) + "…" : cmd.text}"`;
  const clean = cmd.tokens.map((t) => t.replace(/^[[(]+|[\])…,.]+$/g, "")).filter((t) => t !== "" && t !== "…" && t !== "...");
  const [name, ...rest] = clean;
  if (name === undefined || ["--version", "-v", "--help", "-h", "help", "version"].includes(name)) return [];
  // `edge-runner run: configuration error …` is output quoted in prose, not a command.
  if (name.startsWith("<") || !/^[a-z][a-z-]*$/.test(name)) return [];
  const entry = COMMANDS[name];
  if (entry === undefined) return [`${where}: unknown command "${name}" (known: ${Object.keys(COMMANDS).join(", ")})`];
  const problems: string[] = [];
  const help = await helpOf(name);
  const sub = rest.find((t) => !t.startsWith("-"));
  if (entry.subcommands !== undefined && sub !== undefined && !sub.startsWith("<") && rest.indexOf(sub) === 0) {
    const alternatives = cmd.inline ? sub.split("|") : [sub];
    for (const alt of alternatives) {
      if (!entry.subcommands.includes(alt)) problems.push(`${where}: "${alt}" is not a sub-command of "edge-runner ${name}" (${entry.subcommands.join(", ")})`);
    }
  }
  const known = new Set([...help.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  for (const token of rest) {
    if (token === "--") break;
    if (!token.startsWith("--")) continue;
    const flag = token.split("=")[0]!.replace(/[^a-z0-9-]+$/, "");
    const base = flag.startsWith("--no-") ? `--${flag.slice(5)}` : flag;
    if (!known.has(flag) && !known.has(base) && flag !== "--help") {
      problems.push(`${where}: "edge-runner ${name} --help" lists no option "${flag}"`);
    }
  }
  return problems;
}

test("every edge-runner command line in README.md and docs/ names a real command, sub-command and flags", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of DOC_FILES) {
    for (const cmd of commandLines(file, readFileSync(join(root, file), "utf8"))) {
      checked++;
      problems.push(...(await problemsOf(cmd)));
    }
  }
  expect(checked).toBeGreaterThan(50);
  expect(problems).toEqual([]);
});

test("the README that plugin init writes has only command lines that parse", async () => {
  const readme = projectFiles("hello", "0.1.0")["README.md"]!;
  const lines = commandLines("<plugin init>/README.md", readme);
  expect(lines.length).toBeGreaterThan(8);
  expect((await Promise.all(lines.map(problemsOf))).flat()).toEqual([]);
});

test("commandLines() finds invocations after sudo and runuser, joins continued lines, and ignores other tools", () => {
  const md = "```sh\nsudo runuser -u edge-runner -- edge-runner doctor --config-file /etc/c.json\nsystemctl restart edge-runner\nedge-runner run --runner-id r1 \\\n  --group g | jq .\n```\nSee `edge-runner job submit|get` and `npm start`.\n";
  expect(commandLines("x.md", md).map((c) => [c.line, c.tokens])).toEqual([
    [2, ["doctor", "--config-file", "/etc/c.json"]],
    [4, ["run", "--runner-id", "r1", "--group", "g"]],
    [7, ["job", "submit|get"]],
  ]);
});

test("the docs check catches an unknown flag, sub-command and command, naming file and line", async () => {
  const md = "```sh\nedge-runner run --concurreny 2\nedge-runner runner remove r1\nedge-runner frobnicate\n```\n";
  const problems = (await Promise.all(commandLines("docs/x.md", md).map(problemsOf))).flat();
  expect(problems).toEqual([
    'docs/x.md:2: "edge-runner run --concurreny 2": "edge-runner run --help" lists no option "--concurreny"',
    'docs/x.md:3: "edge-runner runner remove r1": "remove" is not a sub-command of "edge-runner runner" (register, list, delete)',
    expect.stringContaining('docs/x.md:4: "edge-runner frobnicate": unknown command "frobnicate"'),
  ]);
});

test("docs/cli.md is what the command table and each command's --help say (run bun scripts/gen-cli-doc.ts when this fails)", async () => {
  expect(readFileSync(CLI_DOC, "utf8")).toBe(await cliDoc());
});

test("each command's --help names each of its sub-commands", async () => {
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const help = await helpOf(name);
    for (const sub of entry.subcommands ?? []) expect(`${name}: ${help}`).toMatch(new RegExp(`\\b${sub}\\b`));
  }
});

test("docs/builtin-plugins.md is what the built-ins and their input schemas say (run bun scripts/gen-builtin-doc.ts when this fails)", async () => {
  expect(readFileSync(BUILTIN_DOC, "utf8")).toBe(await builtinDoc());
});

test("a built-in without an input schema is described by hand in docs/plugins.md, each of its actions listed", async () => {
  const doc = readFileSync(join(root, "docs/plugins.md"), "utf8");
  const section = (name: string) => doc.split(/\n(?=### )/).find((s) => s.startsWith(`### ${name}\n`)) ?? "";
  const missing: string[] = [];
  for (const name of BUILTIN_PLUGINS) {
    const plugin = (await loadBuiltin(name))!;
    if (Object.keys(plugin.actions).some((action) => inputSchemaOf(name, action) !== undefined)) continue;
    if (section(name) === "") missing.push(`docs/plugins.md has no "### ${name}" section`);
    for (const action of Object.keys(plugin.actions)) {
      if (section(name) !== "" && !section(name).includes(`\`${action}\``)) missing.push(`docs/plugins.md "### ${name}" does not list action "${action}"`);
    }
  }
  expect(missing).toEqual([]);
});

test("an option one command reads is listed only in that command's --help (run does not list update's)", async () => {
  expect(await helpOf("update")).toContain("--release-base-url");
  for (const name of ["run", "dev", "doctor", "healthcheck"]) expect(`${name}: ${await helpOf(name)}`).not.toContain("--release-base-url");
});
