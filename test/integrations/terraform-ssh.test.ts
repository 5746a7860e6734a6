// The terraform plugin's SSH clone through the compiled binary. No SSH server runs here, so a fake
// OpenSSH client (test/integrations/fakes/ssh, first on the runner's PATH) checks what a real one
// would be given (a 0600 key file holding the secret, StrictHostKeyChecking=yes, a known-hosts file
// holding exactly the line from the secrets, no key material in argv or environment) and serves
// `git-upload-pack '<path>'` from a local bare repository. Real git on both ends.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

const fakes = new URL("./fakes", import.meta.url).pathname;
// Shaped like an OpenSSH private key; only the fake ever reads it.
const KEY = ["-----BEGIN OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", "QyNTUxOQAAACBfYWtlLWtleS1mb3ItdGhlLXRlcnJhZm9ybS1zc2gtdGVzdAAAAJgAAAAA", "-----END OPENSSH PRIVATE KEY-----"].join("\n");
const HOST_LINE = "gitserver.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRoZS1zZXJ2ZXJzLWhvc3Qta2V5LWZvci10ZXN0cw";
const WRONG_LINE = "gitserver.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGFub3RoZXItaG9zdC1rZXktbm90LXRoZS1zZXJ2ZXI";
const KEY_LINES = KEY.split("\n").filter((l) => !l.startsWith("-----"));
const GIT_URL = "git@gitserver.test:/srv/module.git";

let cluster: Cluster;
let sshConfig: string;
let sshLog: string;
let tfLog: string;

beforeAll(async () => {
  cluster = await startCluster({ runnerEnv: { PATH: `${fakes}:${process.env.PATH}` } });
  const root = path.join(cluster.dir, "sshroot");
  const bare = path.join(root, "srv", "module.git");
  mkdirSync(bare, { recursive: true });
  const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", ...args], { cwd });
  git(bare, "init", "--bare", "-q");
  const work = path.join(cluster.dir, "work");
  mkdirSync(path.join(work, "modules", "net"), { recursive: true });
  git(work, "init", "-q");
  // The default branch has no module at modules/net; tag v1 has one that plans 3 resources.
  writeFileSync(path.join(work, "README.md"), "default branch\n");
  git(work, "add", ".");
  git(work, "commit", "-q", "-m", "main");
  writeFileSync(path.join(work, "modules", "net", "main.tf"), 'resource "null_resource" "r" {}\n');
  writeFileSync(path.join(work, "modules", "net", "ref.auto.tfvars.json"), JSON.stringify({ resources: 3 }));
  git(work, "add", ".");
  git(work, "commit", "-q", "-m", "v1");
  git(work, "tag", "v1");
  git(work, "reset", "-q", "--hard", "HEAD~1");
  git(work, "push", "-q", bare, "main", "v1");
  sshLog = path.join(cluster.dir, "ssh.log");
  tfLog = path.join(cluster.dir, "terraform.log");
  sshConfig = path.join(cluster.dir, "fake-ssh.json");
  writeFileSync(sshConfig, JSON.stringify({ host: "gitserver.test", hostKeyLine: HOST_LINE, key: KEY, root, log: sshLog }));
  await cluster.setSecret("deploykey", KEY);
  await cluster.setSecret("knownhosts", HOST_LINE);
  await cluster.setSecret("wronghosts", WRONG_LINE);
}, 60_000);
afterAll(() => cluster?.stop());

const sshCalls = (): Array<{ keyFile?: string; knownHostsFile?: string; checks: string[]; refused?: string; argv: string[] }> =>
  existsSync(sshLog) ? readFileSync(sshLog, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];
const tfCalls = (): Array<{ argv: string[]; home: string[] }> => (existsSync(tfLog) ? readFileSync(tfLog, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);

function sshInput(module: Record<string, unknown>) {
  return { module: { git: GIT_URL, ref: "v1", path: "modules/net", sshKeyRef: "deploykey", ...module }, env: { FAKE_SSH_CONFIG: sshConfig, FAKE_TERRAFORM_LOG: tfLog } };
}

function expectNoKey(text: string): void {
  for (const line of KEY_LINES) expect(text).not.toContain(line);
}

test("terraform clones over SSH at the ref and path, with the key from the secret and strict host key checking", async () => {
  const before = sshCalls().length;
  const id = await cluster.submit("terraform", "detect", sshInput({ knownHostsRef: "knownhosts" }), ["--secrets", "deploykey,knownhosts"]);
  const done = await cluster.waitFor(id, terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  // 3 resources: the module of tag v1 at modules/net (the default branch has none).
  expect(done.output).toEqual({ changesDetected: true, changes: { add: 3, change: 0, remove: 0 } });
  const calls = sshCalls().slice(before);
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    expect(call.refused).toBeUndefined();
    expect(call.checks).toEqual(["no key in argv or env", "key file 0600 holds the key", "StrictHostKeyChecking=yes", "known hosts holds exactly the line", "git-upload-pack"]);
    expect(call.argv).toContain("git@gitserver.test");
  }
  // The key file and the job's work dir are gone after the job.
  const keyFile = calls[0]?.keyFile ?? "";
  expect(keyFile).not.toBe("");
  expect(existsSync(keyFile)).toBe(false);
  expect(existsSync(calls[0]?.knownHostsFile ?? "")).toBe(false);
  expect(existsSync(path.dirname(keyFile))).toBe(false);
  // Terraform runs with HOME in the work dir: the key file is already gone when it starts.
  const inits = tfCalls().filter((c) => c.argv[0] === "init");
  expect(inits.at(-1)?.home).not.toContain(path.basename(keyFile));
  expect(inits.at(-1)?.home).not.toContain(path.basename(calls[0]?.knownHostsFile ?? ""));
  expectNoKey(await cluster.logs(id));
  expectNoKey(JSON.stringify(done));
  expectNoKey(cluster.runnerOutput());
}, 60_000);

test("terraform SSH clone with a known-hosts line that does not match fails clearly, and the key goes nowhere", async () => {
  const before = sshCalls().length;
  const id = await cluster.submit("terraform", "detect", sshInput({ knownHostsRef: "wronghosts" }), ["--secrets", "deploykey,wronghosts"]);
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("integration_failed");
  expect(done.error?.message).toBe(`Cannot fetch the terraform module from "${GIT_URL}": the SSH host key does not match the known-hosts line (module.knownHostsRef)`);
  const calls = sshCalls().slice(before);
  expect(calls.at(-1)?.refused).toContain("Host key verification failed.");
  expect(existsSync(calls.at(-1)?.keyFile ?? "")).toBe(false);
  expect(existsSync(path.dirname(calls.at(-1)?.keyFile ?? ""))).toBe(false);
  expectNoKey(await cluster.logs(id));
  expectNoKey(JSON.stringify(done));
  expectNoKey(cluster.runnerOutput());
}, 60_000);

test("terraform SSH clone without a known-hosts line is refused before any connection", async () => {
  const before = sshCalls().length;
  const id = await cluster.submit("terraform", "detect", sshInput({}), ["--secrets", "deploykey"]);
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("input_invalid");
  expect(done.error?.message).toBe(`Cannot fetch the terraform module from "${GIT_URL}" over SSH: no known-hosts line (set module.knownHostsRef); host keys are always checked`);
  expect(sshCalls().length).toBe(before);
  expectNoKey(await cluster.logs(id));
  expectNoKey(JSON.stringify(done));
  expectNoKey(cluster.runnerOutput());
}, 60_000);
