// Streams across the worker boundary are plain chunked messages, so they must behave the same on
// every runtime the product ships on: the probe runs under Node and Deno (esbuild bundle) against
// the local backend and against s3rver, and must round-trip 11 MiB and keep two artifacts.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { startS3rver, type S3Server } from "./s3rver.ts";

const root = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "edge-runner-storage-rt-"));
let server: S3Server;
beforeAll(async () => {
  server = await startS3rver();
  await build({
    absWorkingDir: root,
    entryPoints: { "storage-probe": "test/storage/support/storage-probe.ts", "worker-entry": "src/plugins/worker-entry.ts", "storage-user": "test/plugins/fixtures/storage-user.ts" },
    outdir: join(work, "node"), outExtension: { ".js": ".mjs" }, bundle: true, platform: "node", target: "node20", format: "esm",
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
    logLevel: "warning",
  });
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the probe without blocking this process (s3rver answers from here). */
function probe(command: string, args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: tmpdir(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${command} exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"));
    });
  });
}

const SIZE = 11 * 1024 * 1024 + 7;
const EXPECTED = {
  roundTrip: { status: "succeeded", stored: SIZE, check: { size: SIZE, ok: true } },
  artifacts: [`plan.bin:${2 * 1024 * 1024 + 5}:true`, "note.txt:5:true"],
  left: [],
};

const deno = join(root, "node_modules/.bin/deno");
const hasNode = spawnSync("node", ["--version"]).status === 0;
const runtimes: Array<[string, boolean, (args: string[]) => [string, string[]]]> = [
  ["Node", hasNode, (args) => ["node", args]],
  ["Deno", existsSync(deno), (args) => [deno, ["run", "-A", ...args]]],
];

for (const [name, available, command] of runtimes) {
  for (const backend of ["local", "s3"] as const) {
    test.skipIf(!available)(`ctx.storage streams and ctx.artifacts under ${name} on the ${backend} backend`, async () => {
      const dir = join(work, "node");
      const where = backend === "local" ? mkdtempSync(join(work, "local-")) : `${server.endpoint}/${server.bucket}`;
      const [cmd, args] = command([join(dir, "storage-probe.mjs"), join(dir, "storage-user.mjs"), where]);
      const out = (await probe(cmd, args)) as { roundTrip: { error?: string } };
      expect(out).toEqual(EXPECTED as never);
    }, 120_000);
  }
}
