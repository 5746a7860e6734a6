// A plugin in a thread worker (the default isolation) shares the runner's stdout and stderr, and
// so does a child it starts with them inherited (`stdio: "inherit"`, `[0, 1, 2]`, process.stdout
// as an entry, Bun.spawn's default stderr): the child's output, secrets included, went to the
// journal as is. The pool runs in a child process here (fixtures/raw-writes-pool.ts), so the test
// reads that process's real fd 1 and 2: no part of the secret may appear there, and every tagged
// line must be kept, masked, in the "Plugin wrote to stdout/stderr" records of the right stream.
// The plugin checks itself that what it sees is what inherit gives (null streams, exit codes).
// Bun from source (what the compiled binary runs), and the pool bundled for Node, on Node and Deno;
// Bun.spawn/spawnSync on Bun and Deno.Command on Deno too.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertBuilt, FLAVOURS } from "../helpers/processes.ts";
import { poolBundle } from "./fixtures/bundle-pool.ts";

const SECRET = "chldout-Wq3Rt7Yu1Io5Pa9S";
const STDOUT_TAGS = ["spo", "num", "pst", "named", "es", "esf", "nes", "ss", "efs", "fk"];
const STDERR_TAGS = ["spe", "arre", "nume", "pste", "ese", "sse", "halfe", "fke"];
/** Bun.spawn and Bun.spawnSync, on Bun only. */
const BUN_STDOUT_TAGS = ["bsp", "bsa", "bsf", "bss"];
const BUN_STDERR_TAGS = ["bspe", "bsae", "bsfe", "bsse"];
/** Deno.Command, on Deno only. */
const DENO_STDOUT_TAGS = ["dsp", "dout"];
const DENO_STDERR_TAGS = ["dspe", "doute", "dsynce"];
const PLUGIN = fileURLToPath(new URL("./fixtures/inherit-plugin.mjs", import.meta.url));
const CHILD = fileURLToPath(new URL("./fixtures/raw-writes-pool.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "child-inherit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Any 6 characters of the secret, or its base64 or hex: none may be printed. */
function leaked(text: string): string[] {
  const parts = Array.from({ length: SECRET.length - 5 }, (_, i) => SECRET.slice(i, i + 6));
  parts.push(Buffer.from(SECRET).toString("base64").slice(0, 12), Buffer.from(SECRET).toString("hex").slice(0, 12));
  return parts.filter((part) => text.includes(part));
}

interface Kept { outcome: { status: string; error?: { message: string } }; logs: string[]; records: Array<{ msg: string; plugin?: string; line?: string }> }

function check(command: string, args: string[], name: string, runtime: "bun" | "node" | "deno"): void {
  const result = join(dir, `${name}.json`);
  const child = spawnSync(command, [...args, PLUGIN, result, SECRET], { encoding: "utf8", timeout: 60_000 });
  const printed = `${child.stdout}\n${child.stderr}`;
  expect(leaked(printed)).toEqual([]);
  expect(child.status).toBe(0);
  const kept = JSON.parse(readFileSync(result, "utf8")) as Kept;
  expect(kept.outcome).toEqual({ status: "succeeded", output: { ok: true } } as Kept["outcome"]);
  const mine = kept.records.filter((r) => r.plugin?.startsWith("rawwrites@") === true);
  expect(leaked([...kept.logs, ...mine.map((r) => String(r.line))].join("\n"))).toEqual([]);
  const keptIn = (msg: string, tags: string[]): string[] =>
    tags.filter((tag) => !mine.some((r) => r.msg === msg && r.line === `${tag} [REDACTED]`));
  expect(keptIn("Plugin wrote to stdout", [...STDOUT_TAGS, ...(runtime === "bun" ? BUN_STDOUT_TAGS : runtime === "deno" ? DENO_STDOUT_TAGS : [])])).toEqual([]);
  expect(keptIn("Plugin wrote to stderr", [...STDERR_TAGS, ...(runtime === "bun" ? BUN_STDERR_TAGS : runtime === "deno" ? DENO_STDERR_TAGS : [])])).toEqual([]);
  // stdin stays the plugin's pipe: the child read what the plugin wrote to it.
  expect(mine.some((r) => r.line === "arr given [REDACTED]")).toBe(true);
  // Two children printing at once: the other's line did not land inside the secret.
  expect(mine.filter((r) => r.line?.startsWith("par") === true).map((r) => r.line).sort()).toEqual(["para [REDACTED]", "parb x"]);
}

test("captureChildStdio(): a thread plugin's children with fd 1 and 2 inherited reach neither, and are kept masked (Bun, from source)", () => {
  check(process.execPath, [CHILD], "bun", "bun");
}, 60_000);

const bundle = poolBundle(join(dir, "bundle"));

test("captureChildStdio(): a thread plugin's children with fd 1 and 2 inherited reach neither, and are kept masked (Node, bundled)", async () => {
  check(process.env.NODE_BINARY ?? "node", [await bundle()], "node", "node");
}, 60_000);

test("captureChildStdio(): a thread plugin's children with fd 1 and 2 inherited reach neither, and are kept masked (Deno, the Node bundle)", async () => {
  check(fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url)), ["run", "-A", "--quiet", await bundle()], "deno", "deno");
}, 60_000);

// The product as built (dist/): `plugin run` runs the action in a thread of the same pool and logs
// at warn to stderr (as thread-raw-writes.test.ts runs it).
for (const flavour of FLAVOURS) {
  test(`captureChildStdio(): a thread plugin's children with fd 1 and 2 inherited reach neither, and are kept masked (plugin run, ${flavour.name})`, () => {
    assertBuilt();
    const runtime = flavour.name === "compiled binary" ? "bun" : flavour.name === "bundle on Deno" ? "deno" : "node";
    const [command, ...args] = flavour.command as [string, ...string[]];
    const run = spawnSync(command, [...args, "plugin", "run", PLUGIN, "--action", "all", "--name", "rawwrites", "--version", "1.0.0",
      "--input-json", JSON.stringify({ ref: "token", fork: runtime !== "bun" }), "--secret", `token=${SECRET}`], { encoding: "utf8", timeout: 60_000 });
    const printed = `${run.stdout}\n${run.stderr}`;
    expect(leaked(printed)).toEqual([]);
    expect(run.status).toBe(0);
    // The compiled binary's fork would start the runner itself (see the fixture): not tried there.
    const tags = [...STDOUT_TAGS, ...STDERR_TAGS].filter((tag) => runtime !== "bun" || !tag.startsWith("fk"));
    tags.push(...(runtime === "bun" ? [...BUN_STDOUT_TAGS, ...BUN_STDERR_TAGS] : runtime === "deno" ? [...DENO_STDOUT_TAGS, ...DENO_STDERR_TAGS] : []));
    expect(tags.filter((tag) => !new RegExp(`\\b${tag} \\[REDACTED\\]`).test(printed))).toEqual([]);
  }, 60_000);
}
