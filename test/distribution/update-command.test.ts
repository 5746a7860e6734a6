// `edge-runner update` against a fake release server and a fake local runner status endpoint.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { createUpdateCommand, EXIT_BUSY } from "../../src/cli/update-command.ts";
import { assetFor } from "../../src/ops/release-assets.ts";
import { writeReleaseManifest } from "../../src/ops/release-manifest.ts";
import { serveHttp, type HttpServer } from "../../src/platform/http-server.ts";
import { flipByte, makeDevKey, serveDir, type DevKey, type ServedDir } from "./release-fixture.ts";

const script = (version: string) => `#!/bin/sh\necho "edge-runner ${version} (commit test, bun)"\n`;
const ASSET = assetFor(process.platform, process.arch);

let work: string;
let key: DevKey;
let release: ServedDir;
let status: HttpServer;
let running: Array<{ jobId: string }> = [];

async function releaseDir(version: string, tamper = false): Promise<string> {
  const dir = mkdtempSync(join(work, "release-"));
  writeFileSync(join(dir, ASSET), script(version), { mode: 0o755 });
  await writeReleaseManifest({ dir, signingKey: key.privateJwk });
  if (tamper) flipByte(join(dir, ASSET), 12);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "edge-runner-update-test-"));
  key = await makeDevKey(work);
  release = serveDir(await releaseDir("0.2.0"));
  const app = new Hono().get("/status", (c) => c.json({ state: "ready", running }));
  status = await serveHttp(app, { hostname: "127.0.0.1", port: 0 });
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  release?.close();
  await status?.close();
});

function installed(version: string): { dir: string; target: string } {
  const dir = mkdtempSync(join(work, "bin-"));
  const target = join(dir, "edge-runner");
  writeFileSync(target, script(version), { mode: 0o755 });
  return { dir, target };
}

async function update(args: string[], options: { base?: string; statusPort?: number } = {}) {
  const out: string[] = [], err: string[] = [];
  const command = createUpdateCommand({
    env: {
      EDGE_RUNNER_RELEASE_BASE_URL: options.base ?? release.url,
      EDGE_RUNNER_RELEASE_PUBLIC_KEY_FILE: key.pemFile,
      EDGE_RUNNER_STATUS_PORT: String(options.statusPort ?? status.port),
    },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  const code = await command.run(args);
  return { code, out: out.join(""), err: err.join("") };
}

test("updateCommand swaps the executable atomically when the runner runs no job, keeping the previous one", async () => {
  running = [];
  const { dir, target } = installed("0.1.0");
  const result = await update(["--target", target]);
  expect(result.err).toBe("");
  expect(result.code).toBe(0);
  expect(result.out).toContain("from 0.1.0 to 0.2.0");
  expect(readFileSync(target, "utf8")).toBe(script("0.2.0"));
  expect(readFileSync(`${target}.previous`, "utf8")).toBe(script("0.1.0"));
  expect(readdirSync(dir).sort()).toEqual(["edge-runner", "edge-runner.previous"]);
});

test("updateCommand changes nothing and exits 75 while a job runs", async () => {
  running = [{ jobId: "j1" }];
  const { dir, target } = installed("0.1.0");
  const result = await update(["--target", target]);
  expect(result.code).toBe(EXIT_BUSY);
  expect(result.err).toContain('running 1 job(s) ("j1"); nothing was changed, try again later');
  expect(readFileSync(target, "utf8")).toBe(script("0.1.0"));
  expect(readdirSync(dir)).toEqual(["edge-runner"]);
  running = [];
});

test("updateCommand swaps when no runner listens on the status port", async () => {
  const { target } = installed("0.1.0");
  const closed = await serveHttp(new Hono(), { hostname: "127.0.0.1", port: 0 });
  await closed.close();
  const result = await update(["--target", target], { statusPort: closed.port });
  expect(result.code).toBe(0);
  expect(readFileSync(target, "utf8")).toBe(script("0.2.0"));
});

test("updateCommand refuses a tampered release and changes nothing", async () => {
  const tampered = serveDir(await releaseDir("0.2.0", true));
  try {
    const { dir, target } = installed("0.1.0");
    const result = await update(["--target", target], { base: tampered.url });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/Cannot verify "edge-runner-linux-\w+": SHA-256 is .*; nothing was changed/);
    expect(readdirSync(dir)).toEqual(["edge-runner"]);
  } finally {
    tampered.close();
  }
});

test("updateCommand refuses a downgrade unless --allow-downgrade", async () => {
  const { dir, target } = installed("0.3.0");
  const refused = await update(["--target", target]);
  expect(refused.code).toBe(1);
  expect(refused.err).toContain("from 0.3.0 to older 0.2.0 (use --allow-downgrade)");
  expect(readdirSync(dir)).toEqual(["edge-runner"]);
  const allowed = await update(["--target", target, "--allow-downgrade"]);
  expect(allowed.code).toBe(0);
  expect(readFileSync(target, "utf8")).toBe(script("0.2.0"));
});

test("updateCommand reports up to date for identical bytes, and --dry-run changes nothing", async () => {
  const current = installed("0.2.0");
  const same = await update(["--target", current.target]);
  expect(same.code).toBe(0);
  expect(same.out).toContain("already the latest release");
  const older = installed("0.1.0");
  const dry = await update(["--target", older.target, "--dry-run"]);
  expect(dry.code).toBe(0);
  expect(dry.out).toContain("Would update");
  expect(readFileSync(older.target, "utf8")).toBe(script("0.1.0"));
  expect(readdirSync(older.dir)).toEqual(["edge-runner"]);
});

test("updateCommand refuses to guess a target when not compiled", async () => {
  const result = await update([]);
  expect(result.code).toBe(1);
  expect(result.err).toContain("this is not the compiled executable; pass --target PATH");
});
