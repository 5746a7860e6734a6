// A meshStack GITHUB_WORKFLOW run as the meshStack adapter hands it over (implementation with
// githubBaseUrl, owner, appId, appPem decrypted, repository, branch, applyWorkflow,
// destroyWorkflow, async, omitRunObjectInput) turned into this plugin's own input, with the
// workflow inputs meshcloud's runner sends (BuildingBlockWorkflowInputsBuilder.kt): the run
// object as `buildingBlockRun` (base64 JSON), or with omitRunObjectInput only the run's URL as
// `buildingBlockRunUrl`, plus the MESHSTACK_RUN_TOKEN and MESHSTACK_API_TOKEN inputs when the
// building block has them (and MESHSTACK_ENDPOINT beside the API token): a workflow that fetches
// the run from its URL cannot decrypt those itself.

import { EdgeError } from "../../../errors.ts";
import { jvmText } from "../jvm-text.ts";
import { implementationFields, inputListOf, runObjectOf, type MeshstackRun } from "../meshstack-run.ts";
import type { GithubInput } from "./plugin.ts";

export const RUN_OBJECT_INPUT = "buildingBlockRun";
const SYSTEM_TOKENS = ["MESHSTACK_RUN_TOKEN", "MESHSTACK_API_TOKEN"] as const;

export function fromMeshstack(run: MeshstackRun): GithubInput {
  const impl = run.implementation ?? {};
  const { optional: str, required: need } = implementationFields(run, "GITHUB_WORKFLOW");
  const destroy = String(run.behavior).toUpperCase() === "DESTROY";
  const byUrl = impl.omitRunObjectInput === true;
  const input: GithubInput = {
    owner: need("owner"),
    repo: need("repository"),
    workflow: destroy ? (str("destroyWorkflow") ?? need("applyWorkflow")) : need("applyWorkflow"),
    ref: str("branch") ?? "main",
    app: { appId: need("appId"), privateKey: need("appPem") },
    mode: run.async === true ? "async" : "sync",
    meshstack: run.meshstack,
    inputs: byUrl ? urlInputs(run) : { [RUN_OBJECT_INPUT]: Buffer.from(JSON.stringify(runObjectOf(run, "GITHUB_WORKFLOW"))).toString("base64") },
    // meshcloud's workflows know only these inputs; the run's uuid in them serves as the correlation id.
    runIdInput: null,
  };
  const base = str("githubBaseUrl");
  if (base !== undefined) input.baseUrl = base;
  return input;
}

function urlInputs(run: MeshstackRun): Record<string, string> {
  const self = run.meshstack.selfUrl;
  if (typeof self !== "string") throw new EdgeError("input_invalid", "Cannot run a meshStack GITHUB_WORKFLOW run with omitRunObjectInput: the run has no _links.self to pass as buildingBlockRunUrl");
  const out: Record<string, string> = { buildingBlockRunUrl: self };
  const inputs = inputListOf(run, "GITHUB_WORKFLOW");
  const text = (key: string) => jvmText(inputs.find((i) => i.key === key)?.value);
  for (const key of SYSTEM_TOKENS) {
    const value = text(key);
    if (value !== undefined) out[key] = value;
  }
  const endpoint = text("MESHSTACK_ENDPOINT");
  if (out.MESHSTACK_API_TOKEN !== undefined && endpoint !== undefined) out.MESHSTACK_ENDPOINT = endpoint;
  return out;
}

/** Why the run object is large (its largest building block inputs) and what to do about it. */
export function runObjectTooLarge(encoded: string): string {
  let named = "";
  try {
    const object = JSON.parse(Buffer.from(encoded, "base64").toString("utf8")) as { spec?: { buildingBlock?: { spec?: { inputs?: Array<{ key?: unknown; value?: unknown }> } } } };
    const sizes = (object.spec?.buildingBlock?.spec?.inputs ?? []).map((i) => [String(i.key), JSON.stringify(i.value ?? null).length] as const);
    named = sizes.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([key, size]) => `"${key}" (${size} characters)`).join(", ");
  } catch {
    // Built by this plugin from JSON: it parses. Without the names the advice still holds.
  }
  return `It is the meshStack run object${named === "" ? "" : `, whose largest building block inputs are ${named}`}; enable "omitRunObjectInput" ("Pass only API URL") in the building block definition to send only the run's URL (the workflow then reads the run from meshStack)`;
}
