// runObject(): the run as meshcloud's runners hand it to a pipeline (ProcessableBlockRun as
// Jackson writes it): only the fields meshcloud's classes know, in their order, nulls written out,
// and never the implementation's own secret (meshcloud's GitLab runner passes that on encrypted).

import { expect, test } from "bun:test";
import { IMPLEMENTATION_SECRETS, prepareRun } from "../../src/controller/meshstack/implementations.ts";
import { parseRun, type ImplementationType } from "../../src/controller/meshstack/run-document.ts";
import { runObject } from "../../src/controller/meshstack/run-object.ts";

function claimed(type: ImplementationType, implementation: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const base = "https://mesh.test/api/meshobjects/meshbuildingblockruns/r-1";
  return parseRun({
    apiVersion: "v1", kind: "meshBuildingBlockRun", metadata: { uuid: "r-1", createdOn: "2026-12-01" }, status: "IN_PROGRESS",
    spec: {
      runNumber: 4, behavior: "DETECT", runToken: "tok.en.sig", trigger: { reason: "MANUAL_EXECUTION" },
      buildingBlock: { uuid: "bb-1", spec: { displayName: "bb", workspaceIdentifier: "ws", inputs: [{ key: "k", value: "enc", type: "STRING", isSensitive: true, isEnvironment: true }], parentBuildingBlocks: [{ buildingBlockUuid: "p-1", definitionUuid: "d-0" }] } },
      buildingBlockDefinition: { uuid: "d-1", spec: { workspaceIdentifier: "pws", version: 7, implementation: { type, ...implementation } } },
      ...extra,
    },
    _links: { self: { href: base }, registerSource: { href: `${base}/status/source` }, updateSource: { href: `${base}/status/source/{sourceId}`, templated: true } },
  }, "https://mesh.test");
}

test("runObject() has meshcloud's fields in meshcloud's order, the decrypted values, nulls where the run has none", () => {
  const run = claimed("MANUAL", {});
  const object = runObject(run, { k: "plain" }, new Set());
  expect(JSON.stringify(object)).toBe(JSON.stringify({
    kind: "meshBuildingBlockRun", apiVersion: "v1", metadata: { uuid: "r-1" },
    spec: {
      runNumber: 4,
      buildingBlock: { uuid: "bb-1", spec: { displayName: "bb", workspaceIdentifier: "ws", projectIdentifier: null, fullPlatformIdentifier: null, inputs: [{ key: "k", value: "plain", type: "STRING", isSensitive: true, isEnvironment: true }], parentBuildingBlocks: [{ buildingBlockUuid: "p-1", definitionUuid: "d-0" }] } },
      buildingBlockDefinition: { uuid: "d-1", spec: { workspaceIdentifier: "pws", version: 7, implementation: { type: "MANUAL" } } },
      behavior: "DETECT", runToken: "tok.en.sig",
    },
    status: "IN_PROGRESS",
    _links: {
      self: { href: "https://mesh.test/api/meshobjects/meshbuildingblockruns/r-1", templated: null },
      registerSource: { href: "https://mesh.test/api/meshobjects/meshbuildingblockruns/r-1/status/source", templated: null },
      updateSource: { href: "https://mesh.test/api/meshobjects/meshbuildingblockruns/r-1/status/source/{sourceId}", templated: true },
    },
  }));
});

test("runObject() leaves out every implementation type's own secret; GITHUB_WORKFLOW's implementation is its type alone", () => {
  const secret = "ENCRYPTED-SECRET-VALUE";
  const cases: Array<[ImplementationType, Record<string, unknown>, Record<string, unknown>]> = [
    ["TERRAFORM", { repositoryUrl: "git@x:y.git", sshPrivateKey: secret, async: false }, { type: "TERRAFORM", terraformVersion: null, repositoryUrl: "git@x:y.git", repositoryPath: null, refName: null, knownHost: null, async: false, useMeshHttpBackendFallback: null, preRunScript: null }],
    ["GITHUB_WORKFLOW", { owner: "acme", appId: "1", appPem: secret }, { type: "GITHUB_WORKFLOW" }],
    ["GITLAB_CICD", { gitlabBaseUrl: "https://gl.test", projectId: "42", refName: "main", pipelineTriggerToken: secret }, { type: "GITLAB_CICD", gitlabBaseUrl: "https://gl.test", projectId: "42", refName: "main" }],
    ["AZURE_DEVOPS", { organization: "o", project: "p", pipelineId: "1", personalAccessToken: secret, async: true }, { type: "AZURE_DEVOPS", azureDevOpsBaseUrl: null, organization: "o", project: "p", pipelineId: "1", async: true, refName: null }],
  ];
  for (const [type, implementation, expected] of cases) {
    const object = runObject(claimed(type, implementation), {}, new Set(IMPLEMENTATION_SECRETS[type]));
    expect((object.spec as { buildingBlockDefinition: { spec: { implementation: unknown } } }).buildingBlockDefinition.spec.implementation).toEqual(expected);
    expect(JSON.stringify(object)).not.toContain(secret);
  }
});

test("prepareRun() gives the run object (and so the run token) only to the types that send it, and only then", () => {
  const plain = (type: ImplementationType, implementation: Record<string, unknown>) => {
    const run = claimed(type, implementation);
    run.inputs = [{ key: "k", value: "v", type: "STRING", isSensitive: false, isEnvironment: false }];
    return prepareRun(run, [], {}, { register: () => {} }).input;
  };
  for (const [type, implementation] of [["MANUAL", {}], ["AZURE_DEVOPS", { organization: "o", async: false }], ["TERRAFORM", { repositoryUrl: "https://x.test/r.git", async: false }]] as const) {
    const input = plain(type, implementation);
    expect(input.runObject).toBeUndefined();
    expect(input.inputList).toEqual([{ key: "k", value: "v", type: "STRING", isSensitive: false, isEnvironment: false }]);
    expect(JSON.stringify(input)).not.toContain("tok.en.sig");
  }
  for (const type of ["GITHUB_WORKFLOW", "GITLAB_CICD"] as const) {
    expect((plain(type, { async: false }).runObject as { spec: { runToken: string } }).spec.runToken).toBe("tok.en.sig");
  }
});
