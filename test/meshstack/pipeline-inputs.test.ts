// What a meshStack run's pipeline gets, field for field as meshcloud's own runners send it
// (building-block-runner HEAD 555405d): GitLabClient.kt buildPayload, BuildingBlockWorkflowInputsBuilder.kt
// (WithRun, WithUrl) and AzureDevOpsClient.kt triggerPipeline. Existing meshStack pipelines read
// their building block's inputs from these; a drop-in that sends fewer breaks them. Driven through
// the adapter in process (fake meshStack, real plugin pool) against the fakes of
// test/integrations/fakes, which refuse what the services refuse (undeclared GitLab inputs, Azure
// parameters and queue-time variables, GitHub's input limits).

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "../helpers/harness.ts";
import { FakeAzureDevops } from "../integrations/fakes/azure-devops.ts";
import { FakeGithub } from "../integrations/fakes/github.ts";
import { FakeGitlab } from "../integrations/fakes/gitlab.ts";
import { cleanUp, ended, startAdapter, type Adapter } from "./adapter-bed.ts";
import type { FakeInput } from "./fake-meshstack.ts";

let github: FakeGithub;
let gitlab: FakeGitlab;
let azure: FakeAzureDevops;
beforeAll(async () => {
  github = new FakeGithub();
  gitlab = new FakeGitlab();
  azure = new FakeAzureDevops();
  await Promise.all([github.start(), gitlab.start(), azure.start()]);
});
afterAll(async () => {
  await Promise.all([github.stop(), gitlab.stop(), azure.stop()]);
});
afterEach(cleanUp);

const SECRET = "s3cr3t-input-value-Zq81";
/** One input of each kind meshcloud's runners write differently. */
const INPUTS: FakeInput[] = [
  { key: "region", value: "eu-west-1", type: "STRING", isEnvironment: true },
  { key: "size", value: "large", type: "STRING" },
  { key: "replicas", value: 3, type: "INTEGER" },
  { key: "public", value: true, type: "BOOLEAN" },
  { key: "zones", value: ["a", "b"], type: "MULTI_SELECT" },
  { key: "password", value: SECRET, type: "STRING", isSensitive: true },
  { key: "cert", value: "data:text/plain;base64,aGVsbG8=", type: "FILE" },
];

/** Everything the run sent meshStack, and the runner logged: no secret may be in it. */
function reported(a: Adapter, uuid: string): string {
  const run = a.fake.run(uuid);
  return JSON.stringify({ updates: run.updates, summary: run.summary, steps: [...run.steps.values()], logs: a.logs });
}

describe("GITLAB_CICD: the trigger carries meshcloud's variables and inputs", () => {
  test("MESHSTACK_RUN (the run object, inputs decrypted, no trigger token), environment inputs as variables, the others as inputs, the run's links", async () => {
    gitlab.declaredInputs = new Set(["size", "replicas", "public", "zones", "password", "cert"]);
    const a = await startAdapter({ logLevel: "debug" });
    // An input named "__proto__" is a variable like any other (on a plain object it was lost).
    const uuid = a.fake.addRun({ type: "GITLAB_CICD", implementation: { gitlabBaseUrl: gitlab.url, projectId: "42", refName: "main", pipelineTriggerToken: gitlab.triggerToken }, encryptFields: ["pipelineTriggerToken"], inputs: [...INPUTS, { key: "__proto__", value: "proto-env", type: "STRING", isEnvironment: true }] });
    await eventually(() => (a.fake.run(uuid).steps.get("gitlab-pipeline")?.status === "SUCCEEDED" ? true : undefined), 15_000, "trigger step succeeded");
    const pipeline = gitlab.pipelines.at(-1);
    const run = a.fake.run(uuid);
    const base = `${a.fake.url}/api/meshobjects/meshbuildingblockruns/${uuid}`;
    expect(pipeline?.variables).toMatchObject({
      MESHSTACK_BEHAVIOR: "APPLY",
      region: "eu-west-1",
      MESHSTACK_SELF_URL: base,
      MESHSTACK_REGISTER_SOURCE_URL: `${base}/status/source`,
      MESHSTACK_UPDATE_SOURCE_URL: `${base}/status/source/{sourceId}`,
      MESHSTACK_BASE_URL: a.fake.url,
    });
    expect(Object.entries(pipeline?.variables ?? {})).toContainEqual(["__proto__", "proto-env"]);
    // Texts as Kotlin's toString() writes them; the sensitive one decrypted; a FILE its data: URL.
    expect(pipeline?.inputs).toEqual({ size: "large", replicas: "3", public: "true", zones: "[a, b]", password: SECRET, cert: "data:text/plain;base64,aGVsbG8=" });
    const object = JSON.parse(pipeline?.variables.MESHSTACK_RUN ?? "{}");
    expect(Object.keys(object)).toEqual(["kind", "apiVersion", "metadata", "spec", "status", "_links"]);
    expect(object.metadata).toEqual({ uuid });
    expect(object.spec.runToken).toBe(run.runToken);
    expect(object.spec.behavior).toBe("APPLY");
    expect(object.spec.buildingBlock.spec.inputs).toContainEqual({ key: "password", value: SECRET, type: "STRING", isSensitive: true, isEnvironment: false });
    expect(object.spec.buildingBlock.spec.inputs).toContainEqual({ key: "zones", value: ["a", "b"], type: "MULTI_SELECT", isSensitive: false, isEnvironment: false });
    expect(object.spec.buildingBlockDefinition.spec.implementation).toEqual({ type: "GITLAB_CICD", gitlabBaseUrl: gitlab.url, projectId: "42", refName: "main" });
    expect(object._links.updateSource).toEqual({ href: `${base}/status/source/{sourceId}`, templated: true });
    expect(object._links.self).toEqual({ href: base, templated: null });
    // meshStack's newer fields that meshcloud's classes do not know are not passed on.
    expect(object.spec.trigger).toBeUndefined();
    expect(pipeline?.variables.MESHSTACK_RUN).not.toContain(gitlab.triggerToken);
    const text = reported(a, uuid);
    for (const secret of [SECRET, run.runToken, gitlab.triggerToken]) expect(text).not.toContain(secret);
  }, 30_000);

  test("GitLab refusing the trigger and quoting MESHSTACK_RUN back: the run fails without the run token or a sensitive input in its messages", async () => {
    gitlab.declaredInputs = new Set(["password"]);
    gitlab.fault({ times: 1, match: (req) => req.path.endsWith("/trigger/pipeline"), reply: (req) => ({ status: 400, body: { message: { base: [`variables too long: ${req.form().get("variables[MESHSTACK_RUN]")}`] } } }) });
    const a = await startAdapter({ logLevel: "debug" });
    const uuid = a.fake.addRun({ type: "GITLAB_CICD", implementation: { gitlabBaseUrl: gitlab.url, projectId: "42", refName: "main", pipelineTriggerToken: gitlab.triggerToken }, encryptFields: ["pipelineTriggerToken"], inputs: [{ key: "password", value: SECRET, type: "STRING", isSensitive: true }] });
    const run = await eventually(ended(a.fake, uuid), 15_000, "run ended");
    expect(run.status).toBe("FAILED");
    const text = reported(a, uuid);
    expect(text).toContain("variables too long");
    for (const secret of [SECRET, run.runToken, gitlab.triggerToken]) expect(text).not.toContain(secret);
  }, 30_000);
});

describe("GITHUB_WORKFLOW: the dispatch carries meshcloud's workflow inputs", () => {
  const implementation = (extra: Record<string, unknown>) => ({ githubBaseUrl: github.url, owner: "acme", appId: github.appId, appPem: github.privateKeyPem, repository: "app", branch: "main", applyWorkflow: "deploy.yml", async: true, ...extra });

  test("buildingBlockRun: the whole run object, base64, inputs decrypted, the implementation reduced to its type", async () => {
    const a = await startAdapter({ logLevel: "debug" });
    const uuid = a.fake.addRun({ type: "GITHUB_WORKFLOW", implementation: implementation({ omitRunObjectInput: false }), encryptFields: ["appPem"], inputs: INPUTS });
    await eventually(() => (a.fake.run(uuid).steps.get("github-workflow")?.status === "SUCCEEDED" ? true : undefined), 15_000, "dispatch step succeeded");
    const dispatched = github.runs.at(-1);
    expect(Object.keys(dispatched?.inputs ?? {})).toEqual(["buildingBlockRun"]);
    const object = JSON.parse(Buffer.from(dispatched?.inputs.buildingBlockRun ?? "", "base64").toString("utf8"));
    const run = a.fake.run(uuid);
    expect(object.kind).toBe("meshBuildingBlockRun");
    expect(object.spec.runToken).toBe(run.runToken);
    expect(object.spec.buildingBlock.spec.inputs.map((i: { key: string }) => i.key)).toEqual(INPUTS.map((i) => i.key));
    expect(object.spec.buildingBlock.spec.inputs).toContainEqual({ key: "password", value: SECRET, type: "STRING", isSensitive: true, isEnvironment: false });
    expect(object.spec.buildingBlock.spec).toMatchObject({ displayName: "bb", workspaceIdentifier: "ws-1", projectIdentifier: "p-1", fullPlatformIdentifier: "aws.default", parentBuildingBlocks: [] });
    expect(object.spec.buildingBlockDefinition.spec).toMatchObject({ workspaceIdentifier: "platform-ws", version: 1, implementation: { type: "GITHUB_WORKFLOW" } });
    expect(object._links.registerSource.href).toContain(`/meshbuildingblockruns/${uuid}/status/source`);
    expect(JSON.stringify(object)).not.toContain("PRIVATE KEY");
    const text = reported(a, uuid);
    for (const secret of [SECRET, run.runToken]) expect(text).not.toContain(secret);
  }, 30_000);

  test("omitRunObjectInput: only buildingBlockRunUrl, with the MESHSTACK_RUN_TOKEN, MESHSTACK_API_TOKEN and MESHSTACK_ENDPOINT inputs the building block has", async () => {
    for (const name of ["buildingBlockRunUrl", "MESHSTACK_RUN_TOKEN", "MESHSTACK_API_TOKEN", "MESHSTACK_ENDPOINT"]) github.workflowInputs.add(name);
    const a = await startAdapter({ logLevel: "debug" });
    const uuid = a.fake.addRun({
      type: "GITHUB_WORKFLOW", implementation: implementation({ omitRunObjectInput: true }), encryptFields: ["appPem"],
      inputs: [
        ...INPUTS,
        { key: "MESHSTACK_RUN_TOKEN", value: "run-token-input-Kd93", type: "STRING", isSensitive: true, isEnvironment: true },
        { key: "MESHSTACK_API_TOKEN", value: "api-token-input-Lp27", type: "STRING", isSensitive: true, isEnvironment: true },
        { key: "MESHSTACK_ENDPOINT", value: "https://meshstack.example.com", type: "STRING", isEnvironment: true },
      ],
    });
    await eventually(() => (a.fake.run(uuid).steps.get("github-workflow")?.status === "SUCCEEDED" ? true : undefined), 15_000, "dispatch step succeeded");
    expect(github.runs.at(-1)?.inputs).toEqual({
      buildingBlockRunUrl: `${a.fake.url}/api/meshobjects/meshbuildingblockruns/${uuid}`,
      MESHSTACK_RUN_TOKEN: "run-token-input-Kd93",
      MESHSTACK_API_TOKEN: "api-token-input-Lp27",
      MESHSTACK_ENDPOINT: "https://meshstack.example.com",
    });
    const text = reported(a, uuid);
    for (const secret of [SECRET, "run-token-input-Kd93", "api-token-input-Lp27"]) expect(text).not.toContain(secret);
  }, 30_000);

  test("a run object over GitHub's 65,535 characters fails the run naming buildingBlockRun and the input that makes it large; nothing is dispatched or cut", async () => {
    const before = github.runs.length;
    const a = await startAdapter({ logLevel: "debug" });
    const big = `data:application/octet-stream;base64,${"QUJD".repeat(15_000)}`;
    const uuid = a.fake.addRun({ type: "GITHUB_WORKFLOW", implementation: implementation({ omitRunObjectInput: false }), encryptFields: ["appPem"], inputs: [{ key: "region", value: "eu", type: "STRING" }, { key: "bundle", value: big, type: "FILE" }] });
    const run = await eventually(ended(a.fake, uuid), 15_000, "run ended");
    expect(run.status).toBe("FAILED");
    expect(run.summary).toContain('"buildingBlockRun"');
    expect(run.summary).toContain("65535");
    expect(run.summary).toContain('"bundle"');
    expect(run.summary).toContain("omitRunObjectInput");
    expect(github.runs.length).toBe(before);
  }, 30_000);
});

describe("AZURE_DEVOPS: the run carries meshcloud's template parameters", () => {
  test("every input that is not an environment input, and MESHSTACK_BEHAVIOR, as templateParameters; no queue-time variables (sync and async)", async () => {
    azure.declaredParameters = new Set(["size", "replicas", "public", "zones", "password", "cert", "MESHSTACK_BEHAVIOR"]);
    azure.pollsToComplete = 1;
    const a = await startAdapter({ logLevel: "debug" });
    const impl = (async: boolean) => ({ azureDevOpsBaseUrl: azure.url, organization: "acme", project: "infra", pipelineId: "12", personalAccessToken: azure.pat, async, refName: "main" });
    const sync = a.fake.addRun({ type: "AZURE_DEVOPS", implementation: impl(false), encryptFields: ["personalAccessToken"], inputs: INPUTS });
    const done = await eventually(ended(a.fake, sync), 20_000, "run ended");
    expect(done.status).toBe("SUCCEEDED");
    const body = azure.runs.at(-1)?.body;
    expect(body?.templateParameters).toEqual({ size: "large", replicas: "3", public: "true", zones: "[a, b]", password: SECRET, cert: "data:text/plain;base64,aGVsbG8=", MESHSTACK_BEHAVIOR: "APPLY" });
    expect(body?.variables).toBeUndefined();
    const handedOff = a.fake.addRun({ type: "AZURE_DEVOPS", behavior: "DESTROY", implementation: impl(true), encryptFields: ["personalAccessToken"], inputs: INPUTS });
    await eventually(() => (a.fake.run(handedOff).steps.get("azure-devops-pipeline")?.status === "SUCCEEDED" ? true : undefined), 15_000, "trigger step succeeded");
    expect(azure.runs.at(-1)?.body.templateParameters?.MESHSTACK_BEHAVIOR).toBe("DESTROY");
    expect(azure.runs.at(-1)?.body.variables).toBeUndefined();
    const text = reported(a, sync) + reported(a, handedOff);
    for (const secret of [SECRET, azure.pat]) expect(text).not.toContain(secret);
  }, 40_000);
});
