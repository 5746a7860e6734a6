// Terraform or OpenTofu, through the compiled binary: the runner's PATH has no terraform (not even
// the real one in /usr/local/bin), only a `tofu` (the fake terraform under that name); a configured
// binary wins over it; with neither the job fails naming both.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

const fakes = new URL("./fakes", import.meta.url).pathname;
const SYSTEM_PATH = "/usr/bin:/bin"; // node and git; no terraform, no tofu (checked below)
let cluster: Cluster;
let bins: string;
let moduleDir: string;
let logFile: string;
let configured: string;

beforeAll(async () => {
  for (const dir of SYSTEM_PATH.split(":")) for (const name of ["terraform", "tofu"]) expect(existsSync(path.join(dir, name))).toBe(false);
  bins = mkdtempSync(path.join(tmpdir(), "edge-runner-tofu-"));
  mkdirSync(path.join(bins, "path"));
  // A copy, not a link: the fake logs the name it was run as.
  copyFileSync(path.join(fakes, "terraform"), path.join(bins, "path", "tofu"));
  configured = path.join(bins, "my-terraform");
  copyFileSync(path.join(fakes, "terraform"), configured);
  cluster = await startCluster({ runnerEnv: { PATH: `${path.join(bins, "path")}:${SYSTEM_PATH}` } });
  moduleDir = path.join(cluster.dir, "module");
  mkdirSync(moduleDir);
  writeFileSync(path.join(moduleDir, "main.tf"), 'resource "null_resource" "r" {}\n');
  logFile = path.join(cluster.dir, "terraform.log");
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(bins, { recursive: true, force: true });
});

const invocations = (): Array<{ argv: string[]; bin: string }> => (existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : []);

function input(extra: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  return { module: { local: moduleDir }, variables: { resources: 1 }, env: { FAKE_TERRAFORM_LOG: logFile, ...env }, ...extra };
}

test("with no terraform on PATH but tofu, the terraform plugin runs tofu", async () => {
  const before = invocations().length;
  const done = await cluster.waitFor(await cluster.submit("terraform", "apply", input()), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  expect(done.output).toMatchObject({ changesDetected: true, changes: { add: 1, change: 0, remove: 0 } });
  const runs = invocations().slice(before);
  expect(runs.map((r) => r.argv[0])).toEqual(["init", "plan", "apply", "output"]);
  expect(new Set(runs.map((r) => r.bin))).toEqual(new Set(["tofu"]));
}, 60_000);

test("a configured binary is used even when tofu is on PATH", async () => {
  const before = invocations().length;
  const done = await cluster.waitFor(await cluster.submit("terraform", "detect", input({ binary: configured })), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  const runs = invocations().slice(before);
  expect(runs.map((r) => r.argv[0])).toEqual(["init", "plan"]);
  expect(new Set(runs.map((r) => r.bin))).toEqual(new Set(["my-terraform"]));
}, 60_000);

test("with neither terraform nor tofu on the job's PATH the job fails naming both, before running anything", async () => {
  const before = invocations().length;
  const done = await cluster.waitFor(await cluster.submit("terraform", "detect", input({}, { PATH: SYSTEM_PATH })), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("input_invalid");
  expect(done.error?.message).toBe('Cannot run terraform: no executable "terraform" or "tofu" found on PATH (set "binary")');
  expect(invocations().length).toBe(before);
}, 60_000);

test("a configured binary that does not exist fails naming it", async () => {
  const missing = path.join(bins, "no-such-terraform");
  const done = await cluster.waitFor(await cluster.submit("terraform", "detect", input({ binary: missing })), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("input_invalid");
  expect(done.error?.message).toBe(`Cannot run terraform: no executable "${missing}" found`);
}, 60_000);
