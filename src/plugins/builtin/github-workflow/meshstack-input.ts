// A meshStack GITHUB_WORKFLOW run as the meshStack adapter hands it over (implementation with
// githubBaseUrl, owner, appId, appPem decrypted, repository, branch, applyWorkflow,
// destroyWorkflow, async, omitRunObjectInput) turned into this plugin's own input.

import { EdgeError } from "../../../errors.ts";
import type { ActionContext } from "../../sdk.ts";
import type { GithubInput } from "./plugin.ts";

interface MeshstackRun {
  meshstack: Record<string, unknown>;
  behavior?: unknown;
  async?: unknown;
  implementation?: Record<string, unknown>;
}

export function isMeshstackRun(raw: unknown): raw is MeshstackRun {
  return raw !== null && typeof raw === "object" && typeof (raw as { meshstack?: unknown }).meshstack === "object";
}

export function fromMeshstack(run: MeshstackRun, _ctx: ActionContext): GithubInput {
  const impl = run.implementation ?? {};
  const str = (key: string): string | undefined => (typeof impl[key] === "string" && impl[key] !== "" ? (impl[key] as string) : undefined);
  const need = (key: string): string => {
    const value = str(key);
    if (value === undefined) throw new EdgeError("input_invalid", `Cannot run a meshStack GITHUB_WORKFLOW run: implementation.${key} is missing`);
    return value;
  };
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
