// The shape the meshStack adapter hands the integrations (src/controller/meshstack/
// implementations.ts prepareRun) turned into each plugin's own input; edge jobs cannot use it.

import { expect, test } from "bun:test";
import manual from "../../../src/plugins/builtin/manual/plugin.ts";
import { fromMeshstack as github } from "../../../src/plugins/builtin/github-workflow/meshstack-input.ts";
import { fromMeshstack as terraform } from "../../../src/plugins/builtin/terraform/meshstack-input.ts";
import { builtinInputProblem } from "../../../src/plugins/builtin/schemas.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";

const meshstack = { runUuid: "run-1", registerSourceUrl: "https://mesh.test/register", updateSourceUrl: "https://mesh.test/update", runToken: "tok" };

test("manual completes a meshStack run at once with its inputs as outputs", async () => {
  const ctx = createTestContext();
  expect(await manual.actions.apply?.({ behavior: "APPLY", inputs: { a: "1", b: 2 }, meshstack }, ctx)).toEqual({ a: "1", b: 2 });
  expect(ctx.steps.map((s) => `${s.id}:${s.status}`)).toEqual(["manual:succeeded"]);
});

test("terraform: repository, ref, path and SSH key from the implementation; environment inputs as env vars", () => {
  const input = terraform({
    meshstack, behavior: "APPLY",
    inputs: { region: "eu", TF_VAR_x: "y" }, environment: { TF_VAR_x: "y" },
    implementation: { repositoryUrl: "git@github.com:acme/infra.git", refName: "main", repositoryPath: "./envs/prod", sshPrivateKey: "-----BEGIN KEY-----", knownHost: "github.com ssh-ed25519 AAAA" },
  });
  expect(input).toEqual({
    module: { git: "git@github.com:acme/infra.git", ref: "main", path: "envs/prod", sshKey: "-----BEGIN KEY-----", knownHosts: "github.com ssh-ed25519 AAAA" },
    variables: { region: "eu" }, env: { TF_VAR_x: "y" }, planInOutput: true,
  });
  expect(() => terraform({ meshstack, implementation: { repositoryUrl: "https://x.test/r.git", repositoryPath: "../up" } })).toThrow("it must stay inside the repository");
  expect(() => terraform({ meshstack, implementation: {} })).toThrow("Cannot run a meshStack TERRAFORM run: implementation.repositoryUrl is missing");
});

test("github-workflow: apply and destroy workflows, App credentials, async; the run object as buildingBlockRun, or with omitRunObjectInput the run's URL", () => {
  const impl = { githubBaseUrl: "https://ghe.test/api/v3", owner: "acme", repository: "app", branch: "main", appId: "42", appPem: "PEM", applyWorkflow: "apply.yml", destroyWorkflow: "destroy.yml" };
  const inputList = [{ key: "MESHSTACK_RUN_TOKEN", value: "rt", type: "STRING", isSensitive: true, isEnvironment: true }];
  const runObject = { kind: "meshBuildingBlockRun", spec: { buildingBlock: { spec: { inputs: inputList } } } };
  const applied = github({ meshstack, behavior: "APPLY", async: true, implementation: impl, runObject, inputList });
  expect(applied).toMatchObject({ baseUrl: "https://ghe.test/api/v3", owner: "acme", repo: "app", workflow: "apply.yml", ref: "main", app: { appId: "42", privateKey: "PEM" }, mode: "async", runIdInput: null });
  expect(JSON.parse(Buffer.from(applied.inputs?.buildingBlockRun ?? "", "base64").toString("utf8"))).toEqual(runObject);
  const byUrl = github({ meshstack: { ...meshstack, selfUrl: "https://mesh.test/run-1" }, behavior: "DESTROY", implementation: { ...impl, omitRunObjectInput: true }, runObject, inputList });
  expect(byUrl).toMatchObject({ workflow: "destroy.yml", mode: "sync" });
  expect(byUrl.inputs).toEqual({ buildingBlockRunUrl: "https://mesh.test/run-1", MESHSTACK_RUN_TOKEN: "rt" });
  expect(() => github({ meshstack, implementation: { ...impl, omitRunObjectInput: true }, runObject, inputList })).toThrow("the run has no _links.self");
});

test("job submit refuses the meshStack shape in an edge job (the adapter alone builds it)", () => {
  expect(builtinInputProblem("terraform", "apply", { module: { local: "/srv/m" }, meshstack })).toContain("input.meshstack is not a known field");
});
