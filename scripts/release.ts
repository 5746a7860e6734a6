// Builds a release into dist/release/: edge-runner-linux-x64 and -arm64 (bun --compile), the
// Node/Deno bundle (edge-runner-node.tar.gz), install.sh, the systemd unit, SHA256SUMS and
// SHA256SUMS.jws (Ed25519 compact JWS, detached unencoded payload; see src/ops/release-signature.ts).
//
//   bun scripts/release.ts --sign-key=/secure/release-private.jwk
//   EDGE_RUNNER_RELEASE_SIGNING_KEY_FILE=… bun scripts/release.ts
// Options: --out-dir=DIR (default dist/release), --targets=linux-x64,linux-arm64,
//   --skip-bundle, --unsigned (no signature; install.sh and update refuse such a release),
//   --reuse (skip the builds when the sources are unchanged since the last run in DIR).
// The private key never enters the repository: it is read from the file given, which must be 0600.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { JWK } from "jose";
import { RELEASE_FILES, executableAsset, type ReleaseArch } from "../src/ops/release-assets.ts";
import { writeReleaseManifest } from "../src/ops/release-manifest.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, "").split("=");
    return [k as string, v.length === 0 ? "true" : v.join("=")] as const;
  }),
);
const KNOWN = new Set(["out-dir", "targets", "skip-bundle", "unsigned", "reuse", "sign-key"]);
for (const key of args.keys()) if (!KNOWN.has(key)) fail(`Unknown option "--${key}" (known: ${[...KNOWN].map((k) => `--${k}`).join(", ")})`);

const outDir = args.get("out-dir") ?? join(root, "dist/release");
const targets = (args.get("targets") ?? "linux-x64,linux-arm64").split(",").map((t) => {
  const arch = t.replace(/^linux-/, "");
  if (arch !== "x64" && arch !== "arm64") fail(`Unknown target "${t}": expected linux-x64 or linux-arm64`);
  return arch as ReleaseArch;
});
const unsigned = args.get("unsigned") === "true";
const keyFile = args.get("sign-key") ?? process.env.EDGE_RUNNER_RELEASE_SIGNING_KEY_FILE;
if (keyFile === undefined && !unsigned) fail("Cannot sign the release: pass --sign-key=FILE or set EDGE_RUNNER_RELEASE_SIGNING_KEY_FILE (or --unsigned for a local test build)");
const signingKey = keyFile === undefined ? undefined : readSigningKey(keyFile);

mkdirSync(outDir, { recursive: true });
const buildId = sourceHash(targets, args.get("skip-bundle") === "true");
const stamp = join(outDir, ".build-id");
const fresh = args.get("reuse") === "true" && existsSync(stamp) && readFileSync(stamp, "utf8") === buildId;

if (!fresh) {
  // Remove what a previous release left (only release file names), so SHA256SUMS lists exactly this build.
  const ours = new Set<string>([...Object.values(RELEASE_FILES), executableAsset("x64"), executableAsset("arm64"), ".build-id"]);
  for (const name of readdirSync(outDir)) if (ours.has(name)) rmSync(join(outDir, name), { force: true });
  for (const arch of targets) {
    build(["--skip-bundle", `--target=bun-linux-${arch}`, `--outfile=${join(outDir, executableAsset(arch))}`]);
  }
  if (args.get("skip-bundle") !== "true") {
    build(["--skip-compile"]);
    const tar = spawnSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-czf", join(outDir, RELEASE_FILES.nodeBundle), "-C", join(root, "dist"), "node"], { stdio: "inherit" });
    if (tar.status !== 0) fail("Cannot pack the Node/Deno bundle: tar failed");
  }
  writeFileSync(stamp, buildId);
}
copyFileSync(join(root, "install.sh"), join(outDir, RELEASE_FILES.installer));
copyFileSync(join(root, "systemd/edge-runner.service"), join(outDir, RELEASE_FILES.unit));
const { files, signed } = await writeReleaseManifest({ dir: outDir, ...(signingKey === undefined ? {} : { signingKey }) });
console.log(`${fresh ? "reused" : "built"} release in ${relative(process.cwd(), outDir) || "."}: ${files.join(", ")}; ${signed ? `signed by "${signingKey?.kid ?? "(no kid)"}"` : "UNSIGNED"}`);

function build(extra: string[]): void {
  const result = spawnSync(process.execPath, [join(root, "scripts/build.ts"), ...extra], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) fail(`Cannot build the release: scripts/build.ts ${extra.join(" ")} exited with ${result.status}`);
}

function readSigningKey(path: string): JWK {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) fail(`Refusing release signing key "${path}": mode ${mode.toString(8).padStart(4, "0")} lets other users read it; run chmod 600 "${path}"`);
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(path, "utf8")) as JWK;
  } catch {
    return fail(`Cannot read release signing key "${path}": expected an Ed25519 private JWK`);
  }
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string") fail(`Cannot read release signing key "${path}": expected an Ed25519 private JWK`);
  return jwk;
}

/** What the executables are built from; equal hashes mean a rebuild would give the same release. */
function sourceHash(arches: readonly string[], skipBundle: boolean): string {
  const hash = createHash("sha256").update(JSON.stringify({ arches, skipBundle, commit: process.env.EDGE_RUNNER_BUILD_COMMIT ?? "", version: process.env.EDGE_RUNNER_BUILD_VERSION ?? "" }));
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) hash.update(relative(root, path)).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  walk(join(root, "src"));
  for (const file of ["scripts/build.ts", "scripts/run-world.ts", "scripts/static-closure.ts", "package.json", "package-lock.json"]) {
    if (existsSync(join(root, file))) hash.update(file).update(readFileSync(join(root, file)));
  }
  return hash.digest("hex");
}

function fail(message: string): never {
  console.error(`release: ${message}`);
  process.exit(1);
}
