// install.sh for real: a signed test release served on 127.0.0.1, installed into temp roots.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkProxyEnv, proxyFor } from "../../src/platform/proxy.ts";
import { startForwardProxy } from "../helpers/forward-proxy.ts";
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

test("install.sh rejects unknown options and bad values with a clear message and exit 64", async () => {
  const unknown = await run(["sh", join(ROOT, "install.sh"), "--frobnicate"]);
  expect(unknown.code).toBe(64);
  expect(unknown.stderr).toContain('unknown option "--frobnicate"');
  const prefix = await run(["sh", join(ROOT, "install.sh"), "--prefix", "relative/dir"]);
  expect(prefix.code).toBe(64);
  expect(prefix.stderr).toContain('invalid value "relative/dir" for --prefix');
  const help = await run(["sh", join(ROOT, "install.sh"), "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("--upgrade");
});

// The release is served as "release.test", a name only the fake proxy resolves: a download that
// did not go through the proxy fails.
const RELEASE_HOST = "release.test";
const viaProxyName = (served: ServedDir) => served.url.replace("127.0.0.1", RELEASE_HOST);
const PASSWORD_ON_COMMAND_LINE =
  "edge-runner install: warning: the proxy password given with --proxy is visible to other local users (ps) while this runs, and stays in your shell history; give it with --proxy-file FILE (chmod 600) instead\n";
const proxyEnvLines = (proxyUrl: string, noProxy?: string) =>
  [
    "# Written by install.sh --proxy: the proxy of edge-runner.service (EnvironmentFile=).",
    "# Root only (0600): the URL may hold a password. Both spellings, the same value.",
    ...["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"].map((name) => `${name}=${proxyUrl}`),
    ...(noProxy === undefined ? [] : ["NO_PROXY", "no_proxy"].map((name) => `${name}=${noProxy}`)),
    "",
  ].join("\n");

test("install.sh --proxy downloads through the proxy, writes proxy.env (root, 0600) for the unit, and never prints the password", async () => {
  // Percent-encoded in the URL ("@" and "$" as %40 and %24), decoded by curl and the runner.
  const password = "s3cret@Pr0xy$pw";
  const encoded = "s3cret%40Pr0xy%24pw";
  const proxy = await startForwardProxy({ credentials: { user: "build", pass: password }, hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const root = newRoot();
    const base = viaProxyName(releaseA);
    const proxyUrl = `http://build:${encoded}@127.0.0.1:${proxy.port}`;
    const flags = ["--no-keygen", "--proxy", proxyUrl, "--no-proxy", "localhost 127.0.0.1,,.corp"];
    const result = await install(root, base, ...flags);
    // A password on the installer's own command line is visible in `ps` while it runs: it says so.
    expect(result.stderr).toBe(PASSWORD_ON_COMMAND_LINE);
    expect(result.code).toBe(0);
    expect(proxy.targets()).toEqual(["SHA256SUMS", "SHA256SUMS.jws", "edge-runner-linux-x64", "edge-runner.service"].map((name) => `${base}/${name}`));
    expect(proxy.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`build:${password}`).toString("base64")}`)).toBe(true);
    expect(result.stdout).toContain(`downloading through proxy "http://127.0.0.1:${proxy.port}"`);
    expect(result.stdout).toContain(`the service goes through proxy "http://127.0.0.1:${proxy.port}", except for localhost,127.0.0.1,.corp`);

    const file = join(root, "etc/edge-runner/proxy.env");
    expect(readFileSync(file, "utf8")).toBe(proxyEnvLines(proxyUrl, "localhost,127.0.0.1,.corp"));
    expect(mode(file)).toBe("600");
    expect([statSync(file).uid, statSync(file).gid]).toEqual([0, 0]);
    // The runner's own rule reads it as meant: the proxy, its decoded credentials, the list.
    const env = Object.fromEntries(readFileSync(file, "utf8").split("\n").filter((l) => /^[A-Za-z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(() => checkProxyEnv(env)).not.toThrow();
    const route = proxyFor("https://controller.example/", env);
    expect(route?.shown).toBe(`http://127.0.0.1:${proxy.port}`);
    expect(route?.authorization).toBe(`Basic ${Buffer.from(`build:${password}`).toString("base64")}`);
    expect(proxyFor("http://localhost:8080/", env)).toBeUndefined();
    expect(proxyFor("https://vault.corp/", env)).toBeUndefined();
    // The installer's hint for a host without systemd sources it: it must read the same in sh.
    const sourced = await run(["sh", "-c", 'set -a; . "$1"; printf "%s|%s" "$HTTPS_PROXY" "$no_proxy"', "sh", file], { env: { HTTPS_PROXY: undefined, no_proxy: undefined } });
    expect(sourced.stdout).toBe(`${proxyUrl}|localhost,127.0.0.1,.corp`);
    expect(readFileSync(join(root, "etc/systemd/system/edge-runner.service"), "utf8")).toMatch(/^EnvironmentFile=-\/etc\/edge-runner\/proxy\.env$/m);

    const before = snapshotTree(root);
    const again = await install(root, base, ...flags);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("/etc/edge-runner/proxy.env is up to date");
    expect(snapshotTree(root)).toEqual(before);

    for (const output of [result.stdout, result.stderr, again.stdout, again.stderr]) {
      expect(output).not.toContain(password);
      expect(output).not.toContain(encoded);
      expect(output).not.toContain(Buffer.from(`build:${password}`).toString("base64"));
    }
  } finally {
    await proxy.close();
  }
});

/**
 * A PATH of shims, one per command in /usr/bin and /bin, each appending its arguments to `log`
 * (one line per process) before it runs the real command: what every process the installer
 * starts was given on its command line, which any local user can read (ps, /proc/PID/cmdline).
 */
function argvRecordingPath(log: string): string {
  const bin = mkdtempSync(join(work, "argv-path-"));
  for (const dir of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(dir)) {
      const target = join(bin, name);
      if (existsSync(target) || !/^[A-Za-z0-9._+-]+$/.test(name)) continue;
      writeFileSync(target, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >>'${log}'\nexec '${join(dir, name)}' "$@"\n`, { mode: 0o755 });
    }
  }
  return bin;
}

test("install.sh --proxy-file reads the proxy from a 0600 file: its password is in no process's arguments and no output", async () => {
  const password = "f1le@Pr0xy$pw";
  const encoded = "f1le%40Pr0xy%24pw";
  const proxy = await startForwardProxy({ credentials: { user: "build", pass: password }, hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const root = newRoot();
    const base = viaProxyName(releaseA);
    const proxyUrl = `http://build:${encoded}@127.0.0.1:${proxy.port}`;
    const proxyFile = join(work, "proxy-url");
    // Blanks and a CR around the URL (an editor's, Windows') are not part of it.
    writeFileSync(proxyFile, `  ${proxyUrl}\r\n`, { mode: 0o600 });
    const log = join(work, "argv.log");
    writeFileSync(log, "");
    const result = await run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", base, "--public-key", key.pemFile, "--no-user", "--no-keygen", "--proxy-file", proxyFile, "--no-proxy", "localhost"], { env: { PATH: argvRecordingPath(log) } });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(proxy.targets()).toContain(`${base}/edge-runner-linux-x64`);
    expect(proxy.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`build:${password}`).toString("base64")}`)).toBe(true);
    expect(result.stdout).toContain(`the service goes through proxy "http://127.0.0.1:${proxy.port}", except for localhost`);
    expect(readFileSync(join(root, "etc/edge-runner/proxy.env"), "utf8")).toBe(proxyEnvLines(proxyUrl, "localhost"));
    const argv = readFileSync(log, "utf8");
    // The shims did see the processes: the downloads and the file copies.
    expect(argv).toContain(`curl -fsSL --retry 3 -o `);
    expect(argv).toContain("--proxy-file");
    for (const seen of [argv, result.stdout, result.stderr]) {
      expect(seen).not.toContain(password);
      expect(seen).not.toContain(encoded);
      expect(seen).not.toContain(Buffer.from(`build:${password}`).toString("base64"));
    }
  } finally {
    await proxy.close();
  }
});

test("install.sh --proxy hands the password to no other process: only the installer's own command line holds it", async () => {
  const password = "argv-Pr0xy-pw";
  const proxy = await startForwardProxy({ credentials: { user: "build", pass: password }, hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const log = join(work, "argv-proxy.log");
    writeFileSync(log, "");
    const base = viaProxyName(releaseA);
    const result = await run(["sh", join(ROOT, "install.sh"), "--root", newRoot(), "--base-url", base, "--public-key", key.pemFile, "--no-user", "--no-keygen", "--proxy", `http://build:${password}@127.0.0.1:${proxy.port}`], { env: { PATH: argvRecordingPath(log) } });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(PASSWORD_ON_COMMAND_LINE);
    expect(proxy.targets()).toContain(`${base}/edge-runner-linux-x64`);
    const lines = readFileSync(log, "utf8").split("\n");
    expect(lines.some((line) => line.startsWith("curl "))).toBe(true);
    expect(lines.filter((line) => line.includes(password)).map((line) => line.split(" ")[0])).toEqual(lines.some((line) => line.startsWith("sh ") && line.includes(password)) ? ["sh"] : []);
    expect(result.stdout).not.toContain(password);
  } finally {
    await proxy.close();
  }
});

test("install.sh refuses a --proxy-file that holds a password and any group or other permission bit (0640, 0620, 0602, ...), an empty one, a missing one, and one with --proxy, with exit 64 and nothing changed", async () => {
  const file = (name: string, text: string, fileMode: number) => {
    const path = join(work, name);
    writeFileSync(path, text, { mode: fileMode });
    return path;
  };
  const cases: [string[], string][] = [
    [["--proxy-file", file("open-proxy", "http://user:pw-not-shown@proxy:3128\n", 0o644)], "it holds a password and group or others have some access to it (chmod 600 it)"],
    ...[0o640, 0o620, 0o602, 0o610, 0o601, 0o604].map((bits): [string[], string] => {
      const path = file(`proxy-${bits.toString(8)}`, "http://user:pw-not-shown@proxy:3128\n", 0o600);
      chmodSync(path, bits);
      return [["--proxy-file", path], "it holds a password and group or others have some access to it"];
    }),
    [["--proxy-file", file("empty-proxy", "", 0o600)], "it is empty"],
    [["--proxy-file", file("blank-proxy", " \nhttp://proxy:3128\n", 0o600)], "its first line is empty"],
    [["--proxy-file", join(work, "no-such-proxy-file")], 'cannot read --proxy-file "'],
    [["--proxy", "http://proxy:3128", "--proxy-file", file("both-proxy", "http://proxy:3128\n", 0o600)], 'options "--proxy" and "--proxy-file" exclude each other'],
    [["--proxy-file", file("bad-proxy", "https://user:pw-not-shown@proxy:3128\n", 0o600)], 'invalid value for the proxy in --proxy-file: only an http:// forward proxy is supported, not "https://"'],
  ];
  for (const [flags, message] of cases) {
    const root = newRoot();
    const result = await install(root, releaseA.url, "--no-keygen", ...flags);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(message);
    expect(result.stdout + result.stderr).not.toContain("pw-not");
    expect(snapshotTree(root)).toEqual([]);
  }
});

test("install.sh --proxy-file judges a symlink by the file it points to: one to a 0600 file is taken, one to a 0644 file refused", async () => {
  const url = "http://user:pw-not-shown@proxy:3128\n";
  const target = join(work, "linked-proxy-600");
  writeFileSync(target, url, { mode: 0o600 });
  const link = join(work, "proxy-link-600");
  symlinkSync(target, link);
  const open = join(work, "linked-proxy-644");
  writeFileSync(open, url, { mode: 0o644 });
  const openLink = join(work, "proxy-link-644");
  symlinkSync(open, openLink);
  // A bad --no-proxy after it: a taken proxy file ends in the --no-proxy error, a refused one in its own.
  const taken = await install(newRoot(), releaseA.url, "--no-keygen", "--proxy-file", link, "--no-proxy", "bad value!!");
  expect(taken.code).toBe(64);
  expect(taken.stderr).not.toContain("refusing --proxy-file");
  expect(taken.stderr).toContain("--no-proxy");
  const refused = await install(newRoot(), releaseA.url, "--no-keygen", "--proxy-file", openLink);
  expect(refused.code).toBe(64);
  expect(refused.stderr).toContain("it holds a password and group or others have some access to it");
  expect(taken.stderr + refused.stderr).not.toContain("pw-not");
});

test("install.sh keeps proxy.env on an upgrade without --proxy and downloads through it; --proxy \"\" removes it", async () => {
  const proxy = await startForwardProxy({ hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const root = newRoot();
    expect((await install(root, viaProxyName(releaseA), "--no-keygen", "--proxy", proxy.url)).code).toBe(0);
    const file = join(root, "etc/edge-runner/proxy.env");
    const written = readFileSync(file, "utf8");
    expect(written).toBe(proxyEnvLines(proxy.url));

    proxy.requests.length = 0;
    const upgrade = await install(root, viaProxyName(releaseB), "--upgrade");
    expect(upgrade.stderr).toBe("");
    expect(upgrade.code).toBe(0);
    expect(upgrade.stdout).toContain(`downloading through proxy "${proxy.url}" (from /etc/edge-runner/proxy.env)`);
    expect(upgrade.stdout).toContain("kept /etc/edge-runner/proxy.env");
    expect(proxy.targets()).toContain(`${viaProxyName(releaseB)}/edge-runner-linux-x64`);
    expect((await run([join(root, "usr/local/bin/edge-runner"), "--version"])).stdout).toContain("commit test-b");
    expect(readFileSync(file, "utf8")).toBe(written);
    expect(mode(file)).toBe("600");

    proxy.requests.length = 0;
    const removed = await install(root, releaseB.url, "--proxy", "");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("removed /etc/edge-runner/proxy.env: the service connects directly");
    expect(existsSync(file)).toBe(false);
    expect(proxy.requests).toEqual([]);
  } finally {
    await proxy.close();
  }
});

test("install.sh keeps a hand-written proxy.env (quoted, upper case only), makes it root 0600, and downloads through it", async () => {
  const proxy = await startForwardProxy({ hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const root = newRoot();
    mkdirSync(join(root, "etc/edge-runner"), { recursive: true });
    const file = join(root, "etc/edge-runner/proxy.env");
    const handWritten = `# by hand\nHTTPS_PROXY="${proxy.url}"\nNO_PROXY=localhost\n`;
    writeFileSync(file, handWritten, { mode: 0o644 });
    const result = await install(root, viaProxyName(releaseA), "--no-keygen");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(proxy.targets()).toContain(`${viaProxyName(releaseA)}/edge-runner-linux-x64`);
    expect(readFileSync(file, "utf8")).toBe(handWritten);
    expect(mode(file)).toBe("600");
  } finally {
    await proxy.close();
  }
});

test("install.sh --no-proxy sends a listed host direct", async () => {
  const proxy = await startForwardProxy();
  try {
    const root = newRoot();
    const before = releaseA.requests.length;
    const result = await install(root, releaseA.url, "--no-keygen", "--proxy", proxy.url, "--no-proxy", "127.0.0.1");
    expect(result.code).toBe(0);
    expect(proxy.requests).toEqual([]);
    expect(releaseA.requests.slice(before)).toContain("edge-runner-linux-x64");
    expect(readFileSync(join(root, "etc/edge-runner/proxy.env"), "utf8")).toBe(proxyEnvLines(proxy.url, "127.0.0.1"));
  } finally {
    await proxy.close();
  }
});

test("install.sh writes a proxy given as host alone as http://host:80, the port the runner and wget assume (curl would take 1080)", async () => {
  const root = newRoot();
  // The listed host goes direct, so the unreachable proxy is never asked.
  const result = await install(root, releaseA.url, "--no-keygen", "--proxy", "proxy.invalid", "--no-proxy", "127.0.0.1");
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(readFileSync(join(root, "etc/edge-runner/proxy.env"), "utf8")).toBe(proxyEnvLines("http://proxy.invalid:80", "127.0.0.1"));
  expect(result.stdout).toContain('the service goes through proxy "http://proxy.invalid:80"');
});

test("install.sh downloads through the proxy with wget when curl is missing", async () => {
  if (Bun.which("wget") === null) throw new Error("wget is not installed (apt-get install -y wget)");
  const bin = mkdtempSync(join(work, "path-"));
  for (const dir of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(dir)) {
      if (name !== "curl" && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
    }
  }
  const password = "wget@Pr0xy-pw";
  const encoded = "wget%40Pr0xy-pw";
  const proxy = await startForwardProxy({ credentials: { user: "build", pass: password }, hosts: { [RELEASE_HOST]: "127.0.0.1" } });
  try {
    const root = newRoot();
    const base = viaProxyName(releaseA);
    const result = await run(["sh", join(ROOT, "install.sh"), "--root", root, "--base-url", base, "--public-key", key.pemFile, "--no-user", "--no-keygen", "--proxy", `http://build:${encoded}@127.0.0.1:${proxy.port}`], { env: { PATH: bin } });
    expect(result.stderr).toBe(PASSWORD_ON_COMMAND_LINE);
    expect(result.code).toBe(0);
    expect(proxy.targets()).toContain(`${base}/edge-runner-linux-x64`);
    expect(result.stdout + result.stderr).not.toContain(password);
    expect(result.stdout + result.stderr).not.toContain(encoded);
  } finally {
    await proxy.close();
  }
});

test("install.sh refuses a bad --proxy or --no-proxy with exit 64 naming the option, without quoting the proxy, and changes nothing", async () => {
  const cases: [string[], string][] = [
    [["--proxy", "https://user:pw-not-shown@proxy:3128"], 'invalid value for --proxy: only an http:// forward proxy is supported, not "https://"'],
    [["--proxy", "socks5://proxy:1080"], 'invalid value for --proxy: only an http:// forward proxy is supported, not "socks5://"'],
    [["--proxy", "pw-not-shown://proxy:1080"], "invalid value for --proxy: only an http:// forward proxy is supported ("],
    [["--proxy", "not a url pw-not-shown"], "invalid value for --proxy: no valid host in it"],
    [["--proxy", "http://user:pw-not-shown@proxy:99999"], "invalid value for --proxy: its port is not a number from 1 to 65535"],
    [["--proxy", "http://user:pw-not-$hown@proxy:3128"], "invalid value for --proxy: the user and password may hold"],
    [["--proxy", "http://proxy:3128", "--no-proxy", "a;b"], 'invalid value "a;b" for --no-proxy'],
    [["--no-proxy", "localhost"], 'option "--no-proxy" needs --proxy URL'],
    [["--proxy"], 'option "--proxy" needs a value'],
  ];
  for (const [flags, message] of cases) {
    const root = newRoot();
    const result = await install(root, releaseA.url, "--no-keygen", ...flags);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(message);
    expect(result.stdout + result.stderr).not.toContain("pw-not");
    expect(snapshotTree(root)).toEqual([]);
  }
});

test("install.sh is clean under shellcheck", async () => {
  if (Bun.which("shellcheck") === null) throw new Error("shellcheck is not installed (apt-get install -y shellcheck)");
  const result = await run(["shellcheck", "-s", "sh", join(ROOT, "install.sh")]);
  expect(result.stdout).toBe("");
  expect(result.code).toBe(0);
});
