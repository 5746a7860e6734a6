// A plugin in a thread worker (the default isolation) shares the runner's stdout and stderr: its
// raw writes to fd 1 and 2 (fs.writeSync, fs.write, fs.writeFileSync, a named ESM import of
// writeSync) went to the journal as is, secrets included. The pool runs in a child process here,
// so the test reads that process's real fd 1 and 2: no part of the secret may appear there, and
// every write must be kept, masked, in the job's log or the runner's log naming the plugin.
// Bun (what the compiled binary runs) from source, and the Node bundle built as scripts/build.ts does.

import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const SECRET = "raw-fd-Jq4Zt8Lm2Xc6Vb0N";
const TAGS = ["ws2", "ws1", "wsbuf", "w2", "w1", "wf", "named", "named1", "pse", "pso", "cl", "ce", "split", "late"];
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

function check(command: string, args: string[], name: string): void {
  const result = join(dir, `${name}.json`);
  const child = spawnSync(command, [...args, PLUGIN, result, SECRET], { encoding: "utf8", timeout: 60_000 });
  const printed = `${child.stdout}\n${child.stderr}`;
  expect(leaked(printed)).toEqual([]);
  expect(child.status).toBe(0);
  const kept = JSON.parse(readFileSync(result, "utf8")) as Kept;
  expect(kept.outcome.status).toBe("succeeded");
  const lines = [...kept.logs, ...kept.records.filter((r) => r.plugin?.startsWith("rawwrites@") === true).map((r) => String(r.line ?? r.text))];
  expect(leaked(lines.join("\n"))).toEqual([]);
  const missing = TAGS.filter((tag) => !lines.some((line) => line.startsWith(`${tag} `) && line.includes("[REDACTED]")));
  expect(missing).toEqual([]);
  // Writes to any other descriptor are the plugin's own business, untouched.
  expect(readFileSync(`${result}.other`, "utf8")).toBe(`sync ${SECRET}\nasync ${SECRET}\n`);
}

test("a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (Bun, from source)", () => {
  check(process.execPath, [CHILD], "bun");
}, 60_000);

test("a thread plugin's raw writes to fd 1 and 2 reach neither, and are kept masked (Node, bundled)", async () => {
  // The same bundle options as scripts/build.ts: the worker entry beside the bundle that starts it.
  const outdir = join(dir, "node");
  await build({
    absWorkingDir: fileURLToPath(new URL("../..", import.meta.url)),
    entryPoints: { "raw-writes-pool": CHILD, "worker-entry": "src/plugins/worker-entry.ts" },
    outdir, outExtension: { ".js": ".mjs" }, bundle: true, platform: "node", target: "node20", format: "esm", logLevel: "warning",
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  });
  check("node", [join(outdir, "raw-writes-pool.mjs")], "node");
}, 60_000);
