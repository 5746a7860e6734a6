// install.sh for real: a signed test release served on 127.0.0.1, installed into temp roots.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flipByte, makeDevKey, ROOT, run, serveDir, signedRelease, type DevKey, type ServedDir } from "./release-fixture.ts";
import { snapshotTree } from "./tree-snapshot.ts";

let work: string;
let key: DevKey;
let releaseA: ServedDir;
let releaseB: ServedDir;
let apiKeyFile: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "edge-runner-install-test-"));
  key = await makeDevKey(work);
  releaseA = serveDir(await signedRelease("a", key, { parent: work }));
  releaseB = serveDir(await signedRelease("b", key, { parent: work }));
  apiKeyFile = join(work, "api-key-source");
  writeFileSync(apiKeyFile, "test-api-key-0123456789\n", { mode: 0o600 });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  releaseA?.close();
  releaseB?.close();
});

function newRoot(): string {
  return mkdtempSync(join(work, "root-"));
}

function install(root: string, base: string, ...extra: string[]) {
  return run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", base, "--public-key", key.pemFile, "--no-user", ...extra]);
}

const CONFIG_FLAGS = () => ["--runner-id", "r1", "--controller-url", "https://controller.example", "--group", "g1", "--api-key-file", apiKeyFile];
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

test("install.sh installs a verified release, the installed executable runs, and a second run changes nothing", async () => {
  const root = newRoot();
  const first = await install(root, releaseA.url, "--no-keygen", ...CONFIG_FLAGS());
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("verified the signature of SHA256SUMS");
  expect(releaseA.requests).toEqual(expect.arrayContaining(["SHA256SUMS", "SHA256SUMS.jws", "edge-runner-linux-x64", "edge-runner.service"]));

  const version = await run([join(root, "usr/local/bin/edge-runner"), "--version"]);
  expect(version.code).toBe(0);
  expect(version.stdout).toContain("commit test-a");
  for (const command of ["doctor", "update", "healthcheck"]) {
    expect((await run([join(root, "usr/local/bin/edge-runner"), command, "--help"])).code).toBe(0);
  }

  expect(JSON.parse(readFileSync(join(root, "etc/edge-runner/config.json"), "utf8"))).toEqual({
    runnerId: "r1",
    group: "g1",
    controllerUrl: "https://controller.example",
    apiKeyFile: "/etc/edge-runner/api-key",
    dataDir: "/var/lib/edge-runner",
  });
  expect(mode(join(root, "etc/edge-runner"))).toBe("750");
  expect(mode(join(root, "etc/edge-runner/config.json"))).toBe("640");
  expect(mode(join(root, "etc/edge-runner/api-key"))).toBe("600");
  expect(mode(join(root, "var/lib/edge-runner"))).toBe("700");
  expect(mode(join(root, "usr/local/bin/edge-runner"))).toBe("755");
  expect(readFileSync(join(root, "etc/systemd/system/edge-runner.service"), "utf8")).toContain("ExecStart=/usr/local/bin/edge-runner run");
  expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/edge-runner.service"))).toBe("/etc/systemd/system/edge-runner.service");

  const before = snapshotTree(root);
  const second = await install(root, releaseA.url, "--no-keygen", ...CONFIG_FLAGS());
  expect(second.code).toBe(0);
  expect(second.stdout).toContain("is up to date");
  expect(snapshotTree(root)).toEqual(before);
});

test("install.sh --prefix installs under the prefix and points the unit's ExecStart there", async () => {
  const root = newRoot();
  const result = await install(root, releaseA.url, "--no-keygen", "--prefix", "/opt/edge");
  expect(result.code).toBe(0);
  expect(existsSync(join(root, "opt/edge/bin/edge-runner"))).toBe(true);
  expect(existsSync(join(root, "usr/local/bin/edge-runner"))).toBe(false);
  const unit = readFileSync(join(root, "etc/systemd/system/edge-runner.service"), "utf8");
  expect(unit).toContain("ExecStart=/opt/edge/bin/edge-runner run");
  expect(unit).toContain("ExecStartPost=/opt/edge/bin/edge-runner healthcheck --wait");
  expect(unit).not.toContain("/usr/local/bin");
});

test("install.sh creates the runner key pair, keeps the installed executable without --upgrade, and --upgrade swaps it keeping config and keys", async () => {
  const root = newRoot();
  const first = await install(root, releaseA.url, ...CONFIG_FLAGS());
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("-----BEGIN PUBLIC KEY-----");
  expect(mode(join(root, "var/lib/edge-runner/keys/runner-key.pem"))).toBe("600");
  const kept = snapshotTree(join(root, "etc/edge-runner")).concat(snapshotTree(join(root, "var/lib/edge-runner")));

  const again = await install(root, releaseB.url);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("run with --upgrade to replace it");
  expect((await run([join(root, "usr/local/bin/edge-runner"), "--version"])).stdout).toContain("commit test-a");

  const upgrade = await install(root, releaseB.url, "--upgrade");
  expect(upgrade.code).toBe(0);
  expect(upgrade.stdout).toContain("installed /usr/local/bin/edge-runner");
  expect((await run([join(root, "usr/local/bin/edge-runner"), "--version"])).stdout).toContain("commit test-b");
  expect(snapshotTree(join(root, "etc/edge-runner")).concat(snapshotTree(join(root, "var/lib/edge-runner")))).toEqual(kept);
  expect(readdirSync(join(root, "usr/local/bin"))).toEqual(["edge-runner"]);
});

test("install.sh --upgrade refuses an older release with nothing changed, unless --allow-downgrade", async () => {
  const root = newRoot();
  expect((await install(root, releaseB.url)).code).toBe(0);
  const before = snapshotTree(root);
  const down = await install(root, releaseA.url, "--upgrade");
  expect(down.code).not.toBe(0);
  expect(down.stderr).toContain("refusing to downgrade /usr/local/bin/edge-runner from 0.1.1 to 0.1.0");
  expect(snapshotTree(root)).toEqual(before);
  const allowed = await install(root, releaseA.url, "--upgrade", "--allow-downgrade");
  expect(allowed.code).toBe(0);
  expect((await run([join(root, "usr/local/bin/edge-runner"), "--version"])).stdout).toContain("edge-runner 0.1.0");
});

test("install.sh --uninstall keeps config, state and keys; --purge removes them", async () => {
  const root = newRoot();
  expect((await install(root, releaseA.url, "--no-keygen", ...CONFIG_FLAGS())).code).toBe(0);
  const uninstall = await install(root, releaseA.url, "--uninstall");
  expect(uninstall.code).toBe(0);
  expect(existsSync(join(root, "usr/local/bin/edge-runner"))).toBe(false);
  expect(existsSync(join(root, "etc/systemd/system/edge-runner.service"))).toBe(false);
  expect(readdirSync(join(root, "etc/systemd/system/multi-user.target.wants"))).toEqual([]);
  expect(existsSync(join(root, "etc/edge-runner/api-key"))).toBe(true);
  expect(existsSync(join(root, "var/lib/edge-runner"))).toBe(true);

  const purge = await install(root, releaseA.url, "--purge");
  expect(purge.code).toBe(0);
  expect(existsSync(join(root, "etc/edge-runner"))).toBe(false);
  expect(existsSync(join(root, "var/lib/edge-runner"))).toBe(false);
});

test("install.sh creates the service user in the --root's passwd only, and --purge removes it", async () => {
  const root = newRoot();
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\n");
  writeFileSync(join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/gshadow"), "root:*::\n", { mode: 0o640 });
  const hostPasswd = readFileSync("/etc/passwd", "utf8");
  const args = ["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", releaseA.url, "--public-key", key.pemFile, "--no-keygen"];
  const result = await run(args);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const entry = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith("edge-runner:"));
  expect(entry).toBeDefined();
  const [, , uid, gid] = entry!.split(":");
  expect(statSync(join(root, "var/lib/edge-runner")).uid).toBe(Number(uid));
  expect(statSync(join(root, "etc/edge-runner")).gid).toBe(Number(gid));
  expect(readFileSync("/etc/passwd", "utf8")).toBe(hostPasswd);

  expect((await run([...args, "--purge"])).code).toBe(0);
  expect(readFileSync(join(root, "etc/passwd"), "utf8")).not.toContain("edge-runner:");
  expect(readFileSync("/etc/passwd", "utf8")).toBe(hostPasswd);
});

async function expectRefused(mutate: (dir: string) => void, message: RegExp, signer?: DevKey): Promise<void> {
  const dir = await signedRelease("a", signer ?? key, { parent: work, mutate });
  const served = serveDir(dir);
  try {
    const root = newRoot();
    const result = await install(root, served.url, "--no-keygen", ...CONFIG_FLAGS());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(snapshotTree(root)).toEqual([]);
  } finally {
    served.close();
  }
}

test("install.sh refuses a tampered executable and installs nothing", async () => {
  // SHA256SUMS is signed over the original bytes; the executable is changed afterwards.
  const dir = await signedRelease("a", key, { parent: work });
  flipByte(join(dir, "edge-runner-linux-x64"));
  const served = serveDir(dir);
  try {
    const root = newRoot();
    const result = await install(root, served.url, "--no-keygen", ...CONFIG_FLAGS());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/refusing "edge-runner-linux-x64": its SHA-256 is [0-9a-f]{64}, SHA256SUMS says [0-9a-f]{64}/);
    expect(snapshotTree(root)).toEqual([]);
  } finally {
    served.close();
  }
});

test("install.sh refuses a tampered SHA256SUMS and installs nothing", async () => {
  const dir = await signedRelease("a", key, { parent: work });
  const sums = join(dir, "SHA256SUMS");
  // A matching checksum for a swapped executable, written after signing: the signature no longer fits.
  flipByte(join(dir, "edge-runner-linux-x64"));
  const swapped = new Bun.CryptoHasher("sha256").update(readFileSync(join(dir, "edge-runner-linux-x64"))).digest("hex");
  writeFileSync(sums, readFileSync(sums, "utf8").replace(/^[0-9a-f]{64}(  edge-runner-linux-x64)$/m, `${swapped}$1`));
  const served = serveDir(dir);
  try {
    const root = newRoot();
    const result = await install(root, served.url, "--no-keygen", ...CONFIG_FLAGS());
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("SHA256SUMS.jws does not match the release public key");
    expect(snapshotTree(root)).toEqual([]);
  } finally {
    served.close();
  }
});

test("install.sh refuses a release signed by another key and installs nothing", async () => {
  const other = await makeDevKey(work, "someone-else");
  await expectRefused(() => {}, /SHA256SUMS\.jws does not match the release public key/, other);
});

test("install.sh refuses the project's built-in key for a release signed by a test key", async () => {
  const root = newRoot();
  const result = await run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", releaseA.url, "--no-user", "--no-keygen"]);
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("does not match the release public key");
  expect(snapshotTree(root)).toEqual([]);
});

test("install.sh fails closed when openssl is missing, naming the way out", async () => {
  const bin = mkdtempSync(join(work, "path-"));
  for (const dir of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(dir)) {
      if (name !== "openssl" && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
    }
  }
  const root = newRoot();
  const result = await run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", releaseA.url, "--no-user", "--no-keygen"], { env: { PATH: bin } });
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("openssl is needed to verify the release signature");
  expect(snapshotTree(root)).toEqual([]);
});

test("install.sh rejects unknown options and bad values with a clear message", async () => {
  const unknown = await run(["sh", join(ROOT, "install.sh"), "--frobnicate"]);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('unknown option "--frobnicate"');
  const prefix = await run(["sh", join(ROOT, "install.sh"), "--prefix", "relative/dir"]);
  expect(prefix.stderr).toContain('invalid value "relative/dir" for --prefix');
  const help = await run(["sh", join(ROOT, "install.sh"), "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("--upgrade");
});

test("install.sh is clean under shellcheck", async () => {
  if (Bun.which("shellcheck") === null) throw new Error("shellcheck is not installed (apt-get install -y shellcheck)");
  const result = await run(["shellcheck", "-s", "sh", join(ROOT, "install.sh")]);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(0);
});
