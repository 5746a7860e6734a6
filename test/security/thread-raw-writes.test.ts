// A plugin in a thread worker (the default isolation) shares the runner's stdout and stderr: its
// raw writes to fd 1 and 2 (fs.writeSync, fs.write, fs.writeFileSync, a named ESM import of
// writeSync) went to the journal as is, secrets included. The pool runs in a child process here,
// so the test reads that process's real fd 1 and 2: no part of the secret may appear there, and
// every write must be kept, masked, in the job's log or the runner's log naming the plugin.
// Bun (what the compiled binary runs) from source, and the pool bundled as scripts/build.ts
// bundles for Node, on Node and on Deno; then `plugin run` of the built executable and bundle.
// On Bun and on Deno the runtime's own writers too (Bun.write(Bun.stderr), Deno.stderr.write...).

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertBuilt, FLAVOURS } from "../helpers/processes.ts";
import { poolBundle } from "./fixtures/bundle-pool.ts";

const SECRET = "raw-fd-Jq4Zt8Lm2Xc6Vb0N";
/** Written only where the runtime has them: Bun.write and BunFile writers, Deno.stdout/stderr. */
const BUN_TAGS = ["bw2", "bw1", "bwf2", "bwf1", "bwn2", "bwblob", "bwparts", "bfw", "bwr2", "bwr1", "bwrf"];
const DENO_TAGS = ["dw2", "dw2s", "dw1", "dw1s", "dwr"];
const TAGS = ["ws2", "ws1", "wsbuf", "w2", "w1", "wf", "wfa", "parts", "opts", "wv", "named", "named1", "pse", "pso", "cl", "ce", "split", "late"];
const PLUGIN = fileURLToPath(new URL("./fixtures/raw-writes-plugin.mjs", import.meta.url));
const CHILD = fileURLToPath(new URL("./fixtures/raw-writes-pool.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "raw-writes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Any 6 characters of the secret, or its base64 or hex: none may be printed. */
function leaked(text: string): string[] {
  const parts = Array.from({ length: SECRET.length - 5 }, (_, i) => SECRET.slice(i, i + 6));
  parts.push(Buffer.from(SECRET).toString("base64").slice(0, 12), Buffer.from(SECRET).toString("hex").slice(0, 12));
  return parts.filter((part) => text.includes(part));
}

interface Kept { outcome: { status: string }; logs: string[]; records: Array<{ msg: string; plugin?: string; line?: string; text?: string }> }

function check(command: string, args: string[], name: string, runtimeTags: string[] = []): void {
  const result = join(dir, `${name}.json`);
  const child = spawnSync(command, [...args, PLUGIN, result, SECRET], { encoding: "utf8", timeout: 60_000 });
  const printed = `${child.stdout}\n${child.stderr}`;
  expect(leaked(printed)).toEqual([]);
  expect(child.status).toBe(0);
  if (runtimeTags.length > 0) expect(child.stderr).toContain("host-native-write\n");
  const kept = JSON.parse(readFileSync(result, "utf8")) as Kept;
  expect(kept.outcome.status).toBe("succeeded");
  const lines = [...kept.logs, ...kept.records.filter((r) => r.plugin?.startsWith("rawwrites@") === true).map((r) => String(r.line ?? r.text))];
  expect(leaked(lines.join("\n"))).toEqual([]);
  const missing = [...TAGS, ...runtimeTags].filter((tag) => !lines.some((line) => line.startsWith(`${tag} `) && line.includes("[REDACTED]")));
  expect(missing).toEqual([]);
  // Writes to any other descriptor are the plugin's own business, untouched.
  expect(readFileSync(`${result}.other`, "utf8")).toBe(`sync ${SECRET}\nasync ${SECRET}\n`);
  if (runtimeTags === BUN_TAGS) expect(readFileSync(`${result}.other.native`, "utf8")).toBe(`native ${SECRET}\n`);
}

test("a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (Bun, from source)", () => {
  check(process.execPath, [CHILD], "bun", BUN_TAGS);
}, 60_000);

const bundle = poolBundle(join(dir, "bundle"));

test("a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (Node, bundled)", async () => {
  check(process.env.NODE_BINARY ?? "node", [await bundle()], "node");
}, 60_000);

test("a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (Deno, the Node bundle)", async () => {
  check(fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url)), ["run", "-A", "--quiet", await bundle()], "deno", DENO_TAGS);
}, 60_000);

// The product as built (dist/): `plugin run` runs the action in a thread of the same pool and logs
// at warn to stderr. The late write is lost when it closes the pool at once (not printed either).
for (const flavour of FLAVOURS) {
  test(`a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (plugin run, ${flavour.name})`, () => {
    assertBuilt();
    const other = join(dir, `${flavour.name}.other`);
    const [command, ...args] = flavour.command as [string, ...string[]];
    const run = spawnSync(command, [...args, "plugin", "run", PLUGIN, "--action", "all", "--name", "rawwrites", "--version", "1.0.0",
      "--input-json", JSON.stringify({ ref: "token", other }), "--secret", `token=${SECRET}`], { encoding: "utf8", timeout: 60_000 });
    const printed = `${run.stdout}\n${run.stderr}`;
    expect(leaked(printed)).toEqual([]);
    expect(run.status).toBe(0);
    const runtimeTags = flavour.name === "compiled binary" ? BUN_TAGS : flavour.name === "bundle on Deno" ? DENO_TAGS : [];
    const missing = [...TAGS, ...runtimeTags].filter((tag) => tag !== "late" && !new RegExp(`\\b${tag} \\[REDACTED\\]`).test(printed));
    expect(missing).toEqual([]);
    expect(readFileSync(other, "utf8")).toBe(`sync ${SECRET}\nasync ${SECRET}\n`);
    if (runtimeTags === BUN_TAGS) expect(readFileSync(`${other}.native`, "utf8")).toBe(`native ${SECRET}\n`);
  }, 60_000);
}
