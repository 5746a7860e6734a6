// Test fixture: builds x64 test releases once per source state (dist/release-test/{a,b,rc},
// cached by scripts/release.ts --reuse), signs copies with a throwaway Ed25519 key made in a temp
// dir, and serves a release directory on 127.0.0.1. The real release key is never used here.

import { spawnSync } from "node:child_process";
import { cpSync, linkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, exportSPKI, generateKeyPair, type JWK } from "jose";
import { writeReleaseManifest } from "../../src/ops/release-manifest.ts";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BUN = process.execPath;

export interface DevKey {
  privateJwk: JWK;
  publicJwk: JWK;
  publicPem: string;
  /** The public PEM written to a file, for install.sh --public-key. */
  pemFile: string;
}

export async function makeDevKey(dir: string, kid = "dev-test"): Promise<DevKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA" };
  const publicPem = await exportSPKI(publicKey);
  const pemFile = join(dir, `${kid}.pem`);
  writeFileSync(pemFile, publicPem);
  return { privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" }, publicJwk, publicPem, pemFile };
}

const built = new Map<string, string>();

/** Builds (or reuses) the unsigned x64 test release whose executables say commit `commit`. */
export type ReleaseVariant = "a" | "b" | "rc";

/** The version each test release reports: b is newer than a; rc is a pre-release of 0.1.2. */
export const RELEASE_VERSIONS: Record<ReleaseVariant, string> = { a: "0.1.0", b: "0.1.1", rc: "0.1.2-rc.1" };

export function testRelease(variant: ReleaseVariant): string {
  const cached = built.get(variant);
  if (cached !== undefined) return cached;
  const outDir = join(ROOT, "dist/release-test", variant);
  const result = spawnSync(BUN, [join(ROOT, "scripts/release.ts"), `--out-dir=${outDir}`, "--targets=linux-x64", "--skip-bundle", "--unsigned", "--reuse"], {
    cwd: ROOT,
    encoding: "utf8",
    // Release b is a newer version than a, so upgrade and downgrade can both be tried.
    env: { ...process.env, EDGE_RUNNER_BUILD_COMMIT: `test-${variant}`, EDGE_RUNNER_BUILD_VERSION: RELEASE_VERSIONS[variant] },
  });
  if (result.status !== 0) throw new Error(`scripts/release.ts failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  built.set(variant, outDir);
  return outDir;
}

/**
 * A signed copy of a test release in a fresh temp dir: executables hard-linked (no 100 MB copy),
 * small files copied; `mutate` may change files before SHA256SUMS is written and signed (it
 * must replace a file, never write into it: the executables are links to the cached build).
 */
export async function signedRelease(variant: ReleaseVariant, key: DevKey, options: { parent?: string; mutate?: (dir: string) => void } = {}): Promise<string> {
  const source = testRelease(variant);
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), `release-${variant}-`));
  for (const name of readdirSync(source)) {
    if (name.startsWith(".") || name === "SHA256SUMS" || name === "SHA256SUMS.jws") continue;
    if (name.startsWith("edge-runner-linux-")) linkOrCopy(join(source, name), join(dir, name));
    else cpSync(join(source, name), join(dir, name));
  }
  options.mutate?.(dir);
  await writeReleaseManifest({ dir, signingKey: key.privateJwk });
  return dir;
}

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    cpSync(from, to); // another file system
  }
}

/** Replaces `path` by a copy with one byte flipped (never writes through a hard link). */
export function flipByte(path: string, offset = 1000): void {
  const bytes = readFileSync(path);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0xff;
  rmSync(path);
  writeFileSync(path, bytes, { mode: 0o755 });
}

export interface ServedDir {
  url: string;
  requests: string[];
  close(): void;
}

/** Serves the files of `dir` on 127.0.0.1 (404 for anything else). */
export function serveDir(dir: string): ServedDir {
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const name = decodeURIComponent(new URL(request.url).pathname.slice(1));
      requests.push(name);
      if (!/^[A-Za-z0-9._-]+$/.test(name)) return new Response("not found", { status: 404 });
      const file = Bun.file(join(dir, name));
      return file.exists().then((ok) => (ok ? new Response(file) : new Response("not found", { status: 404 })));
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, requests, close: () => void server.stop(true) };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the release server lives in this process). */
export async function run(cmd: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
