// The terraform integration through the compiled binary, against a fake `terraform` that speaks
// the real -json machine-readable UI and exit codes (test/integrations/fakes/terraform): apply,
// detect (plan), destroy, failure, cancel mid-apply (no process left), concurrent runs of one
// module in separate directories, secrets as variables never in the logs, input checked at submit.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import terraformPlugin from "../../src/plugins/builtin/terraform/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

const fakes = new URL("./fakes", import.meta.url).pathname;
let cluster: Cluster;
let moduleDir: string;
let logFile: string;

beforeAll(async () => {
  // The fake is found on the runner's PATH, as a real terraform would be.
  cluster = await startCluster({ runnerEnv: { PATH: `${fakes}:${process.env.PATH}` } });
  moduleDir = path.join(cluster.dir, "module");
  mkdirSync(moduleDir);
  writeFileSync(path.join(moduleDir, "main.tf"), 'resource "null_resource" "r" {}\n');
  logFile = path.join(cluster.dir, "terraform.log");
  await cluster.setSecret("tfpass", "tf-sup3r-secret-value");
}, 60_000);
afterAll(() => cluster?.stop());

const invocations = (): Array<{ argv: string[]; cwd: string; dataDir: string; pid?: number }> =>
  existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l)) : [];

function input(extra: Record<string, unknown> = {}, variables: Record<string, unknown> = {}) {
  return { module: { local: moduleDir }, variables, env: { FAKE_TERRAFORM_LOG: logFile }, ...extra };
}

test("terraform apply: init, plan, apply from the plan file; resources become steps; sensitive outputs become sealed sensitive job outputs", async () => {
  const id = await cluster.submit("terraform", "apply", input({ secretVariables: { secret: "tfpass" } }, { resources: 2 }), ["--secrets", "tfpass"]);
  const done = await cluster.waitFor(id, terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  expect(done.output).toMatchObject({ changesDetected: true, changes: { add: 2, change: 0, remove: 0 }, outputs: { resource_count: 2 } });
  // A marker among the outputs; the value itself is a sensitive job output, sealed by the controller.
  expect((done.output as { outputs: { password: string } }).outputs.password).toBe("(sensitive value)");
  expect((done.output as { password?: unknown }).password).toEqual({ $sensitive: true });
  const logs = await cluster.logs(id);
  expect(logs).toContain("step null_resource.r0: succeeded");
  expect(logs).toContain("step null_resource.r1: succeeded");
  expect(logs).toContain("Plan: 2 to add, 0 to change, 0 to destroy.");
  expect(logs).not.toContain("tf-sup3r-secret-value");
  expect(JSON.stringify(done)).not.toContain("tf-sup3r-secret-value");
  const commands = invocations().map((i) => i.argv[0]);
  expect(commands.slice(-4)).toEqual(["init", "plan", "apply", "output"]);
  expect(invocations().at(-2)?.argv).toEqual(["apply", "-input=false", "-json", "-auto-approve", "tfplan"]);
}, 60_000);

test("terraform detect (plan) reports changesDetected and applies nothing", async () => {
  const before = invocations().length;
  const done = await cluster.waitFor(await cluster.submit("terraform", "detect", input({}, { resources: 3 })), terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toEqual({ changesDetected: true, changes: { add: 3, change: 0, remove: 0 } });
  expect(invocations().slice(before).map((i) => i.argv[0])).toEqual(["init", "plan"]);
}, 60_000);

test("terraform keepPlan puts the plan file with ctx.artifacts; through the binary the reference controller keeps it (job artifacts lists it)", async () => {
  // The plugin itself, with a test context that keeps artifacts.
  const ctx = createTestContext({ jobId: "tf-keep" });
  const output = (await terraformPlugin.actions.plan?.({ ...input({ keepPlan: true, binary: path.join(fakes, "terraform") }, { resources: 1 }) }, ctx)) as { planArtifact?: { name: string; size: number; sha256: string } };
  expect(output.planArtifact).toMatchObject({ name: "tfplan" });
  // Byte for byte: the fake writes the plan file as JSON (its format in the fake's header).
  const planText = new TextDecoder().decode(ctx.artifactsKept.get("tfplan")?.bytes);
  expect(JSON.parse(planText)).toMatchObject({ destroy: false, create: ["null_resource.r0"], delete: [], variables: { resources: 1 } });
  expect(ctx.artifactsKept.get("tfplan")?.bytes.byteLength).toBe(output.planArtifact?.size);
  // Through the binary: the reference controller's artifact store keeps it.
  const id = await cluster.submit("terraform", "plan", input({ keepPlan: true }, { resources: 1 }));
  const done = await cluster.waitFor(id, terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  const kept = (done.output as { planArtifact: { name: string; size: number; sha256: string } }).planArtifact;
  expect(kept).toMatchObject({ name: "tfplan", size: planText.length, sha256: createHash("sha256").update(planText).digest("hex") });
  const listed = await cluster.cli(["job", "artifacts", id, "--json"]);
  expect(listed.code).toBe(0);
  const { artifacts } = JSON.parse(listed.output) as { artifacts: Array<{ name: string; size: number; sha256: string }> };
  expect(artifacts.map((a) => [a.name, a.size, a.sha256])).toEqual([["tfplan", kept.size, kept.sha256]]);
  const downloaded = await cluster.cli(["job", "artifact", id, "tfplan"]);
  expect(downloaded).toMatchObject({ code: 0, output: planText });
}, 60_000);

test("terraform destroy plans with -destroy and applies it", async () => {
  const stateful = path.join(cluster.dir, "stateful");
  mkdirSync(stateful);
  writeFileSync(path.join(stateful, "main.tf"), "\n");
  writeFileSync(path.join(stateful, "terraform.tfstate"), JSON.stringify({ resources: ["null_resource.r0", "null_resource.r1"] }));
  const done = await cluster.waitFor(await cluster.submit("terraform", "destroy", { ...input(), module: { local: stateful } }), terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toMatchObject({ changesDetected: true, changes: { add: 0, change: 0, remove: 2 } });
  expect(invocations().at(-2)?.argv).toContain("-destroy");
}, 60_000);

test("terraform apply failure fails the job with the diagnostic and a failed resource step", async () => {
  const done = await cluster.waitFor(await cluster.submit("terraform", "apply", input({}, { resources: 2, fail_apply: true })), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("command_failed");
  expect(done.error?.message).toContain("terraform apply exited with code 1: local-exec provisioner error");
  expect(await cluster.logs(id(done))).toContain("step null_resource.r1: failed");
}, 60_000);

test("terraform cancel mid-apply stops terraform; no process of the job is left", async () => {
  const jobId = await cluster.submit("terraform", "apply", input({ killGraceMs: 500 }, { resources: 5, apply_delay_ms: 4000 }));
  const deadline = Date.now() + 20_000;
  while (!(await cluster.logs(jobId)).includes("Creating...") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect((await cluster.cli(["job", "cancel", jobId])).code).toBe(0);
  const done = await cluster.waitFor(jobId, terminal);
  expect(done.status).toBe("cancelled");
  const apply = invocations().filter((i) => i.argv[0] === "apply").at(-1);
  expect(apply?.cwd).toBeDefined();
  // The working directory is gone, and so is the terraform process.
  expect(existsSync(apply?.cwd ?? "")).toBe(false);
  const stat = existsSync(`/proc/${apply?.pid}/stat`) ? readFileSync(`/proc/${apply?.pid}/stat`, "utf8") : "";
  expect(stat === "" || / Z /.test(stat)).toBe(true);
}, 60_000);

test("concurrent runs of the same module use separate working and data directories", async () => {
  const before = invocations().length;
  const ids = await Promise.all([1, 2, 3].map(() => cluster.submit("terraform", "apply", input({}, { resources: 1, apply_delay_ms: 300 }))));
  for (const jobId of ids) expect(await cluster.waitFor(jobId, terminal)).toMatchObject({ status: "succeeded" });
  const inits = invocations().slice(before).filter((i) => i.argv[0] === "init");
  expect(inits.length).toBe(3);
  expect(new Set(inits.map((i) => i.cwd)).size).toBe(3);
  expect(new Set(inits.map((i) => i.dataDir)).size).toBe(3);
}, 90_000);

test("job submit terraform checks the input: module required, no .. in paths", async () => {
  const none = await cluster.cli(["job", "submit", "terraform", "--action", "apply", "--input", "{}"]);
  expect(none.code).toBe(64);
  expect(none.output).toContain("input.module is required");
  const escape = await cluster.cli(["job", "submit", "terraform", "--action", "apply", "--input", JSON.stringify({ module: { local: "/srv/../etc" } })]);
  expect(escape.code).toBe(64);
  expect(escape.output).toContain("input.module.local must match");
}, 60_000);

function id(job: { id: string }): string {
  return job.id;
}
