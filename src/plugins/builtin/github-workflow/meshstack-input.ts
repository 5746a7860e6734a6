// A meshStack GITHUB_WORKFLOW run as the meshStack adapter hands it over (implementation with
// githubBaseUrl, owner, appId, appPem decrypted, repository, branch, applyWorkflow,
// destroyWorkflow, async, omitRunObjectInput) turned into this plugin's own input.

import { implementationFields, type MeshstackRun } from "../meshstack-run.ts";
import type { GithubInput } from "./plugin.ts";

export function fromMeshstack(run: MeshstackRun): GithubInput {
  const impl = run.implementation ?? {};
  const { optional: str, required: need } = implementationFields(run, "GITHUB_WORKFLOW");
  const destroy = String(run.behavior).toUpperCase() === "DESTROY";
  const input: GithubInput = {
    owner: need("owner"),
    repo: need("repository"),
    workflow: destroy ? (str("destroyWorkflow") ?? need("applyWorkflow")) : need("applyWorkflow"),
    ref: str("branch") ?? "main",
    app: { appId: need("appId"), privateKey: need("appPem") },
    mode: run.async === true ? "async" : "sync",
    meshstack: run.meshstack,
    runObjectInput: impl.omitRunObjectInput !== true,
    // meshcloud's workflows know only buildingBlockRun; the run's uuid in it serves as the correlation id.
    runIdInput: null,
  };
  const base = str("githubBaseUrl");
  if (base !== undefined) input.baseUrl = base;
  return input;
}
