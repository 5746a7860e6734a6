// Issue 8 item 9: install.sh with hostile flags and hostile installed files, into temp roots.
// Paths are checked against a strict pattern before any sed; versions follow the semver
// precedence of `edge-runner update` and an unparseable or hanging `--version` is refused; the
// runner key pair is generated as the service user and never through a symbolic link.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareVersions } from "../../src/ops/version-compare.ts";
import { makeDevKey, ROOT, run, serveDir, signedRelease, type DevKey, type ServedDir } from "../distribution/release-fixture.ts";
import { snapshotTree } from "../distribution/tree-snapshot.ts";

let work: string;
let key: DevKey;
let releaseA: ServedDir;
let releaseB: ServedDir;
let releaseRc: ServedDir;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "er-sec-install-"));
  // Traversable by the service user, which runs keygen inside a root under here.
  chmodSync(work, 0o755);
  key = await makeDevKey(work);
  releaseA = serveDir(await signedRelease("a", key, { parent: work }));
  releaseB = serveDir(await signedRelease("b", key, { parent: work }));
  releaseRc = serveDir(await signedRelease("rc", key, { parent: work }));
}, 120_000);

afterAll(() => {
  releaseA?.close();
  releaseB?.close();
  releaseRc?.close();
  rmSync(work, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(work, "root-"));
  chmodSync(root, 0o755);
  return root;
}

function install(root: string, base: string, extra: string[], env: Record<string, string> = {}) {
  return run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", base, "--public-key", key.pemFile, ...extra], { env });
}

/** A stand-in for an installed executable: a script printing `versionLine` (or hanging). */
function fakeInstalled(root: string, body: string): void {
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  writeFileSync(join(root, "usr/local/bin/edge-runner"), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

describe("install.sh path validation", () => {
  const marker = () => join(work, "sed-e-ran");
  const hostile = () => [
    ["--prefix", `/opt/x#;e touch ${marker()};#`],
    ["--prefix", "/opt/x\nExecStartPre=/bin/sh"],
    ["--prefix", "/opt/$(touch /tmp/x)"],
    ["--prefix", "/opt/../etc"],
    ["--prefix", "/opt/a b"],
    ["--root", `${work}/r#;e touch ${marker()};#`],
    ["--root", `${work}/../r`],
  ];

  test("install.sh refuses --prefix and --root outside the strict path pattern, before any download or sed", async () => {
    for (const [flag, value] of hostile()) {
      const root = newRoot();
      const before = releaseA.requests.length;
      const args = flag === "--root"
        ? ["sh", join(ROOT, "install.sh"), "--root", value!, "--base-url", releaseA.url, "--public-key", key.pemFile, "--no-user", "--no-keygen"]
        : ["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", releaseA.url, "--public-key", key.pemFile, "--no-user", "--no-keygen", flag!, value!];
      const result = await run(args);
      expect({ value, code: result.code }).toEqual({ value, code: 64 });
      expect(result.stderr).toContain(`for ${flag}`);
      expect(releaseA.requests.length).toBe(before);
      expect(snapshotTree(root)).toEqual([]);
      expect(existsSync(marker())).toBe(false);
    }
  }, 120_000);

  test("install.sh still accepts an ordinary --prefix", async () => {
    const root = newRoot();
    const result = await install(root, releaseA.url, ["--no-user", "--no-keygen", "--prefix", "/opt/edge-runner_2.0+x"]);
    expect(result.stderr).toBe("");
    expect(readFileSync(join(root, "etc/systemd/system/edge-runner.service"), "utf8")).toContain("ExecStart=/opt/edge-runner_2.0+x/bin/edge-runner run");
  }, 60_000);
});

describe("install.sh version rules", () => {
  /** install.sh's own semver_compare, run without main(). */
  async function shellCompare(a: string, b: string): Promise<number | "invalid"> {
    const script = readFileSync(join(ROOT, "install.sh"), "utf8").replace(/\nmain "\$@"\n?$/, "\n");
    expect(script).not.toContain('\nmain "$@"');
    const result = await run(["sh", "-c", `${script}\nsemver_compare "$1" "$2"`, "install.sh", a, b]);
    if (result.code !== 0) return "invalid";
    return Number(result.stdout.trim());
  }

  const PAIRS: Array<[string, string]> = [
    ["0.2.0", "0.2.0-rc.1"], ["0.2.0-rc.1", "0.2.0"], ["0.2.0-rc.1", "0.2.0-rc.2"], ["0.2.0-rc.10", "0.2.0-rc.9"],
    ["1.0.0-alpha", "1.0.0-alpha.1"], ["1.0.0-alpha.1", "1.0.0-alpha.beta"], ["1.0.0-alpha.beta", "1.0.0-beta"],
    ["1.0.0-beta", "1.0.0-beta.2"], ["1.0.0-beta.2", "1.0.0-beta.11"], ["1.0.0-beta.11", "1.0.0-rc.1"], ["1.0.0-rc.1", "1.0.0"],
    ["1.0.0", "1.0.0+build.5"], ["1.10.0", "1.9.0"], ["0.9.9", "0.10.0"], ["2.0.0", "10.0.0"], ["1.0.0-A", "1.0.0-a"],
    ["1.2.3", "1.2.3"], ["1.0.0-x-y", "1.0.0-x"], ["12345678901.0.0", "9.0.0"],
  ];
  for (const [a, b] of PAIRS) {
    test(`semver_compare ${a} ${b} ranks as compareVersions() does`, async () => {
      expect(await shellCompare(a, b)).toBe(compareVersions(a, b));
    });
  }
  for (const bad of ["0.2", "v1.0.0", "1.0.0-", "1.0.0-rc..1", "01.0.0", "latest", "1.0.0 ", ""]) {
    test(`semver_compare refuses ${JSON.stringify(bad)}`, async () => {
      expect(await shellCompare(bad, "1.0.0")).toBe("invalid");
      expect(await shellCompare("1.0.0", bad)).toBe("invalid");
    });
  }

  test("install.sh --upgrade refuses 0.1.2 → 0.1.2-rc.1 (a pre-release ranks below its release), nothing changed", async () => {
    const root = newRoot();
    fakeInstalled(root, 'echo "edge-runner 0.1.2 (commit fake, bun)"');
    const before = snapshotTree(root);
    const result = await install(root, releaseRc.url, ["--no-user", "--no-keygen", "--upgrade"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("refusing to downgrade /usr/local/bin/edge-runner from 0.1.2 to 0.1.2-rc.1");
    expect(snapshotTree(root)).toEqual(before);
  }, 60_000);

  test("install.sh --upgrade takes 0.1.1-rc.1 → 0.1.1", async () => {
    const root = newRoot();
    fakeInstalled(root, 'echo "edge-runner 0.1.1-rc.1 (commit fake, bun)"');
    const result = await install(root, releaseB.url, ["--no-user", "--no-keygen", "--upgrade"]);
    expect(result.stderr).toBe("");
    expect((await run([join(root, "usr/local/bin/edge-runner"), "--version"])).stdout).toContain("edge-runner 0.1.1 ");
  }, 60_000);

  test("install.sh --upgrade refuses an installed version it cannot parse, unless --allow-downgrade", async () => {
    const root = newRoot();
    fakeInstalled(root, 'echo "edge-runner nightly-2024 (commit fake, bun)"');
    const before = snapshotTree(root);
    const result = await install(root, releaseA.url, ["--no-user", "--no-keygen", "--upgrade"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("cannot compare the installed version");
    expect(snapshotTree(root)).toEqual(before);
    const allowed = await install(root, releaseA.url, ["--no-user", "--no-keygen", "--upgrade", "--allow-downgrade"]);
    expect(allowed.code).toBe(0);
  }, 60_000);

  test("install.sh --upgrade bounds a hanging --version and refuses, nothing changed", async () => {
    const root = newRoot();
    fakeInstalled(root, "exec sleep 600");
    const before = snapshotTree(root);
    const started = Date.now();
    const result = await install(root, releaseA.url, ["--no-user", "--no-keygen", "--upgrade"], { EDGE_RUNNER_VERSION_TIMEOUT: "2" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("did not answer --version within 2 s");
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(snapshotTree(root)).toEqual(before);
  }, 60_000);
});

describe("install.sh key generation", () => {
  /** A root with its own passwd holding the service user (uid/gid 4321, unused on the host). */
  function rootWithUser(): string {
    const root = newRoot();
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nedge-runner:x:4321:4321::/var/lib/edge-runner:/usr/sbin/nologin\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\nedge-runner:x:4321:\n");
    return root;
  }

  test("install.sh refuses a symlinked keys/ and writes nothing through it", async () => {
    const root = rootWithUser();
    const target = mkdtempSync(join(work, "elsewhere-"));
    mkdirSync(join(root, "var/lib/edge-runner"), { recursive: true });
    symlinkSync(target, join(root, "var/lib/edge-runner/keys"));
    const result = await install(root, releaseA.url, []);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('"/var/lib/edge-runner/keys" is a symbolic link');
    expect(readdirSync(target)).toEqual([]);
  }, 60_000);

  test("install.sh refuses a symlinked key file", async () => {
    const root = rootWithUser();
    mkdirSync(join(root, "var/lib/edge-runner/keys"), { recursive: true });
    symlinkSync(join(work, "victim.pem"), join(root, "var/lib/edge-runner/keys/runner-key.pub.pem"));
    const result = await install(root, releaseA.url, []);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("is a symbolic link");
    expect(existsSync(join(work, "victim.pem"))).toBe(false);
  }, 60_000);

  test("install.sh generates the runner key pair as the service user", async () => {
    const root = rootWithUser();
    const result = await install(root, releaseA.url, []);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    for (const name of ["keys", "keys/runner-key.pem", "keys/runner-key.pub.pem"]) {
      const info = statSync(join(root, "var/lib/edge-runner", name));
      expect({ name, uid: info.uid, gid: info.gid }).toEqual({ name, uid: 4321, gid: 4321 });
    }
    expect((statSync(join(root, "var/lib/edge-runner/keys/runner-key.pem")).mode & 0o777).toString(8)).toBe("600");
  }, 60_000);
});
