// meshStack implementation types on the built-in integrations, through the compiled binary: the
// fake meshStack hands out runs whose secrets (the GitHub App key) are encrypted by the test's
// own implementation of the scheme; the integrations talk to the fakes of issue 12
// (test/integrations/fakes: GitHub, GitLab and Azure DevOps APIs, a `terraform` speaking the -json UI).

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { FLAVOURS, STATUS_URL, assertBuilt, start, waitForOutput, type Flavour, type Proc } from "../helpers/processes.ts";
import { eventually } from "../helpers/harness.ts";
import { FakeAzureDevops } from "../integrations/fakes/azure-devops.ts";
import { FakeGithub } from "../integrations/fakes/github.ts";
import { FakeGitlab } from "../integrations/fakes/gitlab.ts";
import { FakeMeshstack } from "./fake-meshstack.ts";

const binary = FLAVOURS[0] as Flavour;
const fakesDir = new URL("../integrations/fakes", import.meta.url).pathname;
let dir: string;
let keyFile: string;
let fake: FakeMeshstack;
let github: FakeGithub;
let gitlab: FakeGitlab;
let azure: FakeAzureDevops;
let runner: Proc;
let statusUrl: string;
let repo: string;

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), "edge-runner-meshstack-int-"));
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  keyFile = path.join(dir, "runner.key");
  writeFileSync(keyFile, pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string, { mode: 0o600 });
  writeFileSync(path.join(dir, "client-secret"), "int-client-secret-0123\n", { mode: 0o600 });
  // A git repository holding the Terraform module (TERRAFORM runs clone repositoryUrl).
  repo = path.join(dir, "module-repo");
  mkdirSync(repo);
  writeFileSync(path.join(repo, "main.tf"), 'resource "null_resource" "r" {}\n');
  const git = (...args: string[]) => spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: repo, encoding: "utf8" });
  expect(git("init", "-q", "-b", "main").status).toBe(0);
  git("add", ".");
  expect(git("commit", "-q", "-m", "module").status).toBe(0);
  github = new FakeGithub();
  await github.start();
  gitlab = new FakeGitlab();
  await gitlab.start();
  azure = new FakeAzureDevops();
  await azure.start();
  fake = await new FakeMeshstack({ clientId: "int-client", clientSecret: "int-client-secret-0123", publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }) as string }).start();
  runner = start(binary, [
    "run", "--controller-kind", "meshstack", "--controller-url", fake.url, "--runner-id", fake.runnerUuid,
    "--meshstack-client-id", "int-client", "--api-key-file", path.join(dir, "client-secret"), "--runner-key-file", keyFile,
    "--data-dir", path.join(dir, "data"), "--status-port", "0", "--poll-interval", "200ms", "--meshstack-status-interval", "500ms",
    "--concurrency", "4",
  ], { env: { PATH: `${fakesDir}:${process.env.PATH}` } });
  statusUrl = await waitForOutput(runner, STATUS_URL);
}, 60_000);
afterAll(async () => {
  runner?.kill("SIGKILL");
  await runner?.exited;
  await fake?.stop();
  await github?.stop();
  await gitlab?.stop();
  await azure?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Every request the runner sent in a test is checked against the protocol (fake-meshstack-headers.ts,
// fake-meshstack-bodies.ts): a drift fails the test that sent it.
afterEach(() => {
  expect(fake.violations.splice(0)).toEqual([]);
});

const ended = (uuid: string) => () => (fake.run(uuid).status !== "IN_PROGRESS" ? fake.run(uuid) : undefined);

function githubRun(async: boolean): string {
  return fake.addRun({
    type: "GITHUB_WORKFLOW",
    implementation: { githubBaseUrl: github.url, owner: "acme", appId: github.appId, appPem: github.privateKeyPem, repository: "app", branch: "main", applyWorkflow: "deploy.yml", async, omitRunObjectInput: false },
    encryptFields: ["appPem"],
    inputs: [{ key: "environment", value: "prod", type: "STRING" }],
  });
}

// Sync runs are found by the run id GitHub returns for return_run_details (meshcloud's workflows
// know only buildingBlockRun, so there is no correlation input to search for). (i12)
const githubSync = test;

describe("meshStack implementation types on the built-in integrations (compiled binary)", () => {
  githubSync("GITHUB_WORKFLOW sync: the App key is decrypted, the workflow dispatched with buildingBlockRun and followed to SUCCEEDED", async () => {
    github.pollsToComplete = 2;
    github.conclusion = "success";
    const before = github.runs.length;
    const uuid = githubRun(false);
    const run = await eventually(ended(uuid), 60_000, "run ended");
    expect(run.summary).toBe("Run succeeded");
    expect(run.status).toBe("SUCCEEDED");
    expect(github.runs.length).toBe(before + 1);
    const dispatched = github.runs.at(-1);
    // meshcloud's run object (BuildingBlockWorkflowInputsBuilder.WithRun): the run as claimed, inputs decrypted.
    const runObject = JSON.parse(Buffer.from(String(dispatched?.inputs.buildingBlockRun), "base64").toString("utf8")) as { metadata?: { uuid?: string }; spec?: { runToken?: string; buildingBlock?: { spec?: { inputs?: unknown[] } } } };
    expect(runObject.metadata?.uuid).toBe(uuid);
    expect(runObject.spec?.runToken).toBe(run.runToken);
    expect(runObject.spec?.buildingBlock?.spec?.inputs).toEqual([{ key: "environment", value: "prod", type: "STRING", isSensitive: false, isEnvironment: false }]);
    expect(runner.output()).not.toContain(run.runToken);
    expect([...run.steps.keys()].some((id) => id.startsWith("job-"))).toBe(true);
    expect(fake.violations).toEqual([]);
    expect(runner.output()).not.toContain("BEGIN RSA PRIVATE KEY");
  }, 90_000);

  githubSync("GITHUB_WORKFLOW sync: a failed conclusion fails the run with the integration's message", async () => {
    github.conclusion = "failure";
    const uuid = githubRun(false);
    const run = await eventually(ended(uuid), 60_000, "run ended");
    github.conclusion = "success";
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain('concluded "failure"');
  }, 90_000);

  test("GITHUB_WORKFLOW async: dispatched with the run's URLs and token, the trigger step SUCCEEDED, the run left IN_PROGRESS for the workflow", async () => {
    const uuid = githubRun(true);
    await eventually(() => (fake.run(uuid).steps.get("github-workflow")?.status === "SUCCEEDED" ? true : undefined), 60_000, "trigger step succeeded");
    const run = fake.run(uuid);
    expect(run.status).toBe("IN_PROGRESS");
    const runObject = JSON.parse(Buffer.from(String(github.runs.at(-1)?.inputs.buildingBlockRun), "base64").toString("utf8")) as { metadata?: { uuid?: string }; spec?: { runToken?: string }; _links?: { updateSource?: { href?: string } } };
    expect(runObject.metadata?.uuid).toBe(uuid);
    expect(runObject.spec?.runToken).toBe(run.runToken);
    expect(runObject._links?.updateSource?.href).toContain(`/meshbuildingblockruns/${uuid}/status/source`);
  }, 90_000);

  test("TERRAFORM APPLY: the module is cloned, planned and applied; resources become steps; outputs reach meshStack", async () => {
    const uuid = fake.addRun({ type: "TERRAFORM", implementation: { repositoryUrl: repo, refName: "main", terraformVersion: "1.9.8", async: false }, inputs: [{ key: "resources", value: 2, type: "INTEGER" }] });
    const run = await eventually(ended(uuid), 60_000, "run ended");
    expect(run.summary).toBe("Run succeeded");
    expect(run.status).toBe("SUCCEEDED");
    expect([...run.steps.keys()]).toContain("terraform-apply");
    const withLog = [...run.steps.values()].find((s) => typeof s.systemMessage === "string" && s.systemMessage.length > 0);
    expect(withLog).toBeDefined();
    expect(run.steps.get("terraform")?.outputs?.resource_count).toEqual({ value: 2, type: "INTEGER", isSensitive: false });
  }, 90_000);

  test("TERRAFORM DETECT: a plan only, with changesDetected sent to meshStack", async () => {
    const uuid = fake.addRun({ type: "TERRAFORM", behavior: "DETECT", implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: 1, type: "INTEGER" }] });
    const run = await eventually(ended(uuid), 60_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.changesDetected).toBe(true);
    // The plan file itself, base64, in the final PATCH (the fake terraform writes its plan as JSON).
    expect(typeof run.artifact).toBe("string");
    expect(JSON.parse(Buffer.from(String(run.artifact), "base64").toString("utf8"))).toMatchObject({ destroy: false, create: ["null_resource.r0"], delete: [] });
    const final = run.updates.find((u) => u.body.status === "SUCCEEDED");
    expect(final?.body.artifact).toBe(run.artifact);
    expect(final?.body.changesDetected).toBe(true);
    expect([...run.steps.keys()]).not.toContain("terraform-apply");
  }, 90_000);

  // A DETECT whose plan the user approves, then the APPLY meshStack links to it (planArtifact),
  // both on one backend (FAKE_TERRAFORM_STATE, an environment input).
  function detectThenApply(name: string, resources: number): { state: string; log: string; approved: () => Promise<Buffer> } {
    const state = path.join(dir, `${name}.tfstate`);
    const log = path.join(dir, `${name}.log`);
    const env = [{ key: "FAKE_TERRAFORM_STATE", value: state, type: "STRING" as const, isEnvironment: true }, { key: "FAKE_TERRAFORM_LOG", value: log, type: "STRING" as const, isEnvironment: true }];
    const uuid = fake.addRun({ type: "TERRAFORM", behavior: "DETECT", implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: resources, type: "INTEGER" }, ...env] });
    return {
      state, log,
      approved: async () => {
        const detected = await eventually(ended(uuid), 60_000, "DETECT ended");
        expect(detected.status).toBe("SUCCEEDED");
        return Buffer.from(String(detected.artifact), "base64");
      },
    };
  }
  const tfEnv = (d: { state: string; log: string }) => [{ key: "FAKE_TERRAFORM_STATE", value: d.state, type: "STRING" as const, isEnvironment: true }, { key: "FAKE_TERRAFORM_LOG", value: d.log, type: "STRING" as const, isEnvironment: true }];
  const commands = (log: string): string[] => readFileSync(log, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { argv: string[] }).argv[0] as string);

  test("TERRAFORM APPLY after a DETECT applies the approved plan itself (terraform apply FILE), never a new plan", async () => {
    const d = detectThenApply("tf-approved", 1);
    const planArtifact = await d.approved();
    const before = commands(d.log).length;
    const uuid = fake.addRun({ type: "TERRAFORM", behavior: "APPLY", planArtifact, implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: 1, type: "INTEGER" }, ...tfEnv(d)] });
    const run = await eventually(ended(uuid), 60_000, "APPLY ended");
    expect(run.summary).toBe("Run succeeded");
    expect(run.status).toBe("SUCCEEDED");
    expect(commands(d.log).slice(before)).toEqual(["init", "apply", "output"]);
    expect(run.steps.get("resource:null_resource.r0")?.status).toBe("SUCCEEDED");
    expect(run.steps.get("terraform")?.outputs?.resource_count).toEqual({ value: 1, type: "INTEGER", isSensitive: false });
    expect(JSON.parse(readFileSync(d.state, "utf8"))).toMatchObject({ serial: 1, resources: ["null_resource.r0"] });
  }, 90_000);

  test("TERRAFORM APPLY of an approved plan whose state changed since the DETECT fails with Terraform's \"Saved plan is stale\"; nothing is applied", async () => {
    const d = detectThenApply("tf-stale", 1);
    const planArtifact = await d.approved();
    // Another APPLY (no plan linked) changes the state after the DETECT.
    const other = fake.addRun({ type: "TERRAFORM", behavior: "APPLY", implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: 2, type: "INTEGER" }, ...tfEnv(d)] });
    expect((await eventually(ended(other), 60_000, "other APPLY ended")).status).toBe("SUCCEEDED");
    const stateBefore = readFileSync(d.state, "utf8");
    const before = commands(d.log).length;
    const uuid = fake.addRun({ type: "TERRAFORM", behavior: "APPLY", planArtifact, implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: 1, type: "INTEGER" }, ...tfEnv(d)] });
    const run = await eventually(ended(uuid), 60_000, "APPLY ended");
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain("Cannot apply the plan approved in meshStack: terraform apply exited with code 1: Saved plan is stale");
    expect(run.summary).toContain("run the dry run (DETECT) again and approve the new plan");
    expect(commands(d.log).slice(before)).toEqual(["init", "apply"]);
    expect(readFileSync(d.state, "utf8")).toBe(stateBefore);
  }, 90_000);

  test("TERRAFORM APPLY: a sensitive output reaches meshStack as its real value with isSensitive, and nowhere else", async () => {
    const secret = "tf-sensitive-output-Qx7v2LmN9";
    const uuid = fake.addRun({ type: "TERRAFORM", implementation: { repositoryUrl: repo, async: false }, inputs: [{ key: "resources", value: 1, type: "INTEGER" }, { key: "secret", value: secret, type: "STRING" }] });
    const run = await eventually(ended(uuid), 60_000, "run ended");
    expect(run.status).toBe("SUCCEEDED");
    expect(run.steps.get("terraform")?.outputs?.password).toEqual({ value: secret, type: "STRING", isSensitive: true });
    expect(run.steps.get("terraform")?.outputs?.resource_count).toEqual({ value: 1, type: "INTEGER", isSensitive: false });
    // Only in the outputs of the final PATCH: no step message, summary or other update carries it.
    for (const update of run.updates) {
      const steps = (update.body.steps ?? []) as Array<Record<string, unknown>>;
      const withoutOutputs = { ...update.body, steps: steps.map(({ outputs: _outputs, ...rest }) => rest) };
      expect(JSON.stringify(withoutOutputs)).not.toContain(secret);
    }
    expect(runner.output()).not.toContain(secret);
    expect(await (await fetch(`${statusUrl}/status`)).text()).not.toContain(secret);
    expect(await (await fetch(`${statusUrl}/`)).text()).not.toContain(secret);
  }, 90_000);

  test("TERRAFORM async: the module gets the run's register/update URLs and run token (environment and TF_VAR_), never logged; the run is handed off", async () => {
    const log = path.join(dir, "tf-async.log");
    const uuid = fake.addRun({
      type: "TERRAFORM",
      implementation: { repositoryUrl: repo, async: true },
      inputs: [{ key: "resources", value: 1, type: "INTEGER" }, { key: "FAKE_TERRAFORM_LOG", value: log, type: "STRING", isEnvironment: true }],
    });
    await eventually(() => (fake.run(uuid).steps.get("terraform")?.status === "SUCCEEDED" ? true : undefined), 60_000, "terraform step succeeded");
    const run = fake.run(uuid);
    expect(run.status).toBe("IN_PROGRESS");
    const calls = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { argv: string[]; meshstackEnv: Record<string, string> });
    const apply = calls.find((c) => c.argv[0] === "apply");
    expect(apply).toBeDefined();
    const env = apply?.meshstackEnv ?? {};
    expect(env.MESHSTACK_RUN_TOKEN).toBe(run.runToken);
    expect(env.TF_VAR_meshstack_run_token).toBe(run.runToken);
    expect(env.MESHSTACK_RUN_UUID).toBe(uuid);
    expect(env.MESHSTACK_REGISTER_SOURCE_URL).toContain(`/meshbuildingblockruns/${uuid}/status/source`);
    expect(env.MESHSTACK_UPDATE_SOURCE_URL).toContain(`/meshbuildingblockruns/${uuid}/status/source`);
    expect(env.TF_VAR_meshstack_update_source_url).toBe(env.MESHSTACK_UPDATE_SOURCE_URL);
    expect(env.TF_VAR_meshstack_register_source_url).toBe(env.MESHSTACK_REGISTER_SOURCE_URL);
    expect(runner.output()).not.toContain(run.runToken);
    expect(JSON.stringify(run.updates)).not.toContain(run.runToken);
  }, 90_000);

  test("GITLAB_CICD (always async): the pipeline is triggered with the decrypted trigger token, the run object, inputs and the run's URLs and token as variables; the run is left IN_PROGRESS", async () => {
    gitlab.declaredInputs.add("size");
    const uuid = fake.addRun({
      type: "GITLAB_CICD",
      implementation: { gitlabBaseUrl: gitlab.url, projectId: "42", refName: "main", pipelineTriggerToken: gitlab.triggerToken },
      encryptFields: ["pipelineTriggerToken"],
      inputs: [{ key: "region", value: "eu", type: "STRING", isEnvironment: true }, { key: "size", value: "large", type: "STRING" }],
    });
    await eventually(() => (fake.run(uuid).steps.get("gitlab-pipeline")?.status === "SUCCEEDED" ? true : undefined), 60_000, "trigger step succeeded");
    const run = fake.run(uuid);
    expect(run.status).toBe("IN_PROGRESS");
    const pipeline = gitlab.pipelines.at(-1);
    expect(pipeline?.variables.MESHSTACK_BEHAVIOR).toBe("APPLY");
    expect(pipeline?.variables.MESHSTACK_RUN_TOKEN).toBe(run.runToken);
    expect(pipeline?.variables.MESHSTACK_UPDATE_SOURCE_URL).toContain(`/meshbuildingblockruns/${uuid}/status/source`);
    expect(pipeline?.variables.region).toBe("eu");
    expect(pipeline?.inputs).toEqual({ size: "large" });
    expect(JSON.parse(pipeline?.variables.MESHSTACK_RUN ?? "{}").spec?.runToken).toBe(run.runToken);
    expect(runner.output()).not.toContain(gitlab.triggerToken);
    expect(runner.output()).not.toContain(run.runToken);
  }, 90_000);

  test("AZURE_DEVOPS sync: the run is started with the decrypted PAT, followed through its timeline, SUCCEEDED; a failed result fails the run", async () => {
    azure.pollsToComplete = 2;
    azure.result = "succeeded";
    // The pipeline declares the parameter meshcloud's runner always sends (the fake refuses undeclared ones).
    azure.declaredParameters.add("MESHSTACK_BEHAVIOR");
    const implementation = { azureDevOpsBaseUrl: azure.url, organization: "acme", project: "infra", pipelineId: "12", personalAccessToken: azure.pat, async: false, refName: "main" };
    const ok = fake.addRun({ type: "AZURE_DEVOPS", implementation, encryptFields: ["personalAccessToken"] });
    const run = await eventually(ended(ok), 60_000, "run ended");
    expect(run.summary).toBe("Run succeeded");
    expect(run.status).toBe("SUCCEEDED");
    expect(azure.runs.at(-1)?.body.resources?.repositories?.self?.refName).toBe("refs/heads/main");
    azure.result = "failed";
    const bad = fake.addRun({ type: "AZURE_DEVOPS", implementation, encryptFields: ["personalAccessToken"] });
    const failed = await eventually(ended(bad), 60_000, "run ended");
    azure.result = "succeeded";
    expect(failed.status).toBe("FAILED");
    expect(runner.output()).not.toContain(azure.pat);
  }, 120_000);

  test("AZURE_DEVOPS async: started with meshcloud's template parameters (inputs, MESHSTACK_BEHAVIOR), handed off, left IN_PROGRESS", async () => {
    azure.declaredParameters.add("size").add("MESHSTACK_BEHAVIOR");
    const uuid = fake.addRun({
      type: "AZURE_DEVOPS",
      implementation: { azureDevOpsBaseUrl: azure.url, organization: "acme", project: "infra", pipelineId: "12", personalAccessToken: azure.pat, async: true },
      encryptFields: ["personalAccessToken"],
      inputs: [{ key: "size", value: "large", type: "STRING" }],
    });
    await eventually(() => (fake.run(uuid).steps.get("azure-devops-pipeline")?.status === "SUCCEEDED" ? true : undefined), 60_000, "trigger step succeeded");
    expect(fake.run(uuid).status).toBe("IN_PROGRESS");
    expect(azure.runs.at(-1)?.body.templateParameters).toEqual({ size: "large", MESHSTACK_BEHAVIOR: "APPLY" });
    expect(azure.runs.at(-1)?.body.variables).toBeUndefined();
  }, 90_000);
});
