// Built-in "azure-devops-pipeline": runs an Azure Pipelines pipeline (REST API 7.1, or the
// server's: api-version.ts) on Azure DevOps Services or Server with a PAT (Basic auth, empty user), template parameters and a ref.
// Sync mode polls the run and its build timeline (stages become steps) to the end; cancel asks
// the build to cancel; async passes the job's callback as queue-time variables and ends at once.
// The run request is not idempotent and its answer carries the only handle on the run, so it is
// retried only when the service surely did not act (429, a refused connection).

import { EdgeError } from "../../../errors.ts";
import { definePlugin, type ActionContext, type StepUpdate } from "../../sdk.ts";
import { ApiClient, errorDetail } from "../api-client.ts";
import { publicUrl } from "../../../config/url.ts";
import { callbackFor, callbackVariables } from "../callback-info.ts";
import { implementationFields, integrationInput, inputListOf, type MeshstackRun } from "../meshstack-run.ts";
import { jvmText, textMap } from "../jvm-text.ts";
import { apiId, apiText, apiTextWhole, webUrl } from "../api-values.ts";
import { cancelledAtStart, followRun, triggerSignal } from "../pipeline-run.ts";
import { AZURE_DEVOPS_PIPELINE_INPUT } from "./schema.ts";
import { areaVersions, versionTheServerTakes, type ApiVersion } from "./api-version.ts";

export interface AzureInput {
  baseUrl?: string;
  organization: string;
  project: string;
  pipelineId: number;
  ref?: string;
  templateParameters?: Record<string, string>;
  variables?: Record<string, string>;
  patRef?: string;
  /** meshStack: the PAT as a value (decrypted by the adapter). */
  pat?: string;
  mode?: "sync" | "async";
  pollMs?: number;
  apiVersion?: ApiVersion;
  meshstack?: Record<string, unknown>;
}

interface PipelineRun {
  id: number;
  state?: string;
  result?: string;
  _links?: { web?: { href?: string } };
}

interface TimelineRecord {
  id: string;
  type?: string;
  name?: string;
  state?: string;
  result?: string | null;
  order?: number;
}

const INTEGRATION = "Azure DevOps";
/**
 * The results a completed run can have (Runs and Builds APIs): does the job succeed, and what it
 * means. A Map, not an object: a result such as "constructor" must not find Object.prototype's member.
 */
const RESULTS: ReadonlyMap<string, { ok: boolean; meaning: string }> = new Map([
  ["succeeded", { ok: true, meaning: "succeeded" }],
  // Tasks marked continueOnError failed: the pipeline's author chose not to fail the run for them.
  ["partiallySucceeded", { ok: true, meaning: "partially succeeded (tasks with continueOnError failed)" }],
  ["failed", { ok: false, meaning: "failed" }],
  ["canceled", { ok: false, meaning: "was cancelled in Azure DevOps" }],
]);

async function run(raw: unknown, ctx: ActionContext): Promise<Record<string, unknown>> {
  const input = integrationInput<AzureInput>(raw, AZURE_DEVOPS_PIPELINE_INPUT, "azure-devops-pipeline", fromMeshstack);
  const mode = input.mode ?? "sync";
  const api = new ApiClient(ctx);
  const pat = input.pat ?? (await ctx.secrets.get(input.patRef ?? ""));
  const headers = { authorization: `Basic ${Buffer.from(`:${pat}`).toString("base64")}` };
  const project = `${(input.baseUrl ?? "https://dev.azure.com").replace(/\/+$/, "")}/${encodeURIComponent(input.organization)}/${encodeURIComponent(input.project)}`;
  const variables: Record<string, string> = { ...input.variables };
  // A meshStack run sends what meshcloud's runner sends, no queue-time variables: Azure DevOps
  // refuses those a pipeline does not mark settable at queue time (the default for new organizations).
  if (mode === "async" && input.meshstack === undefined) Object.assign(variables, callbackVariables(await callbackFor(ctx, input.meshstack, INTEGRATION)));
  const body: Record<string, unknown> = {};
  if (input.ref !== undefined) body.resources = { repositories: { self: { refName: input.ref } } };
  if (input.templateParameters !== undefined) body.templateParameters = input.templateParameters;
  if (Object.keys(variables).length > 0) body.variables = Object.fromEntries(Object.entries(variables).map(([k, value]) => [k, { value, isSecret: /TOKEN/.test(k) }]));

  ctx.step({ id: "queue", name: `Run pipeline ${input.pipelineId}`, status: "running" });
  let started: PipelineRun;
  let version: ApiVersion = input.apiVersion ?? "7.1";
  const signal = triggerSignal(ctx.signal);
  // Without a chosen apiVersion, a server's 400 is read: one refusing 7.1 as out of its range is asked once more in its own.
  const runRequest = (asked: ApiVersion, fallBack: boolean) => api.request<PipelineRun>({ integration: INTEGRATION, call: `run pipeline ${input.pipelineId}`, method: "POST", url: `${project}/_apis/pipelines/${input.pipelineId}/runs?${areaVersions(asked).pipelines}`, headers, body, idempotent: false, signal, ...(fallBack ? { accept: [400] } : {}) });
  try {
    let answer = await runRequest(version, input.apiVersion === undefined);
    if (answer.status === 400) {
      const older = versionTheServerTakes(answer.body, version);
      const detail = errorDetail(JSON.stringify(answer.body ?? ""));
      if (older === undefined) throw new EdgeError("integration_failed", `${INTEGRATION}: cannot run pipeline ${input.pipelineId} (POST ${publicUrl(`${project}/_apis/pipelines/${input.pipelineId}/runs`)}): answer 400${detail}`);
      ctx.log.info(`${INTEGRATION}: the server refused REST API version ${version}${detail}; asking in ${older} (set apiVersion to skip this)`);
      version = older;
      answer = await runRequest(version, false);
    }
    started = answer.body;
  } catch (error) {
    ctx.step({ id: "queue", name: `Run pipeline ${input.pipelineId}`, status: "failed" });
    throw error;
  }
  const runId = apiId(started?.id, INTEGRATION, "run");
  ctx.step({ id: "queue", name: `Run pipeline ${input.pipelineId}`, status: "succeeded" });
  const runUrl = webUrl(started?._links?.web?.href);
  ctx.outputs.set("runId", runId);
  if (runUrl !== undefined) ctx.outputs.set("runUrl", runUrl);
  ctx.log.info(`${INTEGRATION}: run ${runId} of pipeline ${input.pipelineId} started ${runUrl ?? ""}`);
  // A pipeline run is a build: the Builds API cancels it (the Runs API has no cancel).
  const cancel = async (signal: AbortSignal): Promise<void> => {
    await api.request({ integration: INTEGRATION, call: `cancel run ${runId}`, method: "PATCH", url: `${project}/_apis/build/builds/${runId}?${areaVersions(version).build}`, headers, body: { status: "cancelling" }, idempotent: true, signal });
  };
  // Also in async mode: a job cancelled while its run was being started does not leave that run going.
  if (ctx.signal.aborted) throw await cancelledAtStart({ integration: INTEGRATION, label: `run ${runId}`, cancel }, ctx);
  if (mode === "async") return { mode: "async", runId, runUrl };

  const final = await followRun({
    integration: INTEGRATION,
    label: `run ${runId}`,
    ...(runUrl === undefined ? {} : { url: runUrl }),
    async poll() {
      const current = await api.request<PipelineRun>({ integration: INTEGRATION, call: `read run ${runId}`, method: "GET", url: `${project}/_apis/pipelines/${input.pipelineId}/runs/${runId}?${areaVersions(version).pipelines}`, headers, idempotent: true });
      // The timeline may not exist yet right after queueing (404): no stages to show then.
      const timeline = await api.request<{ records?: unknown }>({ integration: INTEGRATION, call: `read the timeline of run ${runId}`, method: "GET", url: `${project}/_apis/build/builds/${runId}/timeline?${areaVersions(version).build}`, headers, idempotent: true, accept: [404] });
      const listed = timeline.status === 404 ? undefined : timeline.body?.records;
      const records = (Array.isArray(listed) ? (listed as unknown[]) : []).slice(0, 5000);
      // A null or non-object record, or one without an id, is passed over: stages are only shown.
      const stages = records.filter((r): r is TimelineRecord => r !== null && typeof r === "object" && (r as TimelineRecord).type === "Stage" && apiText((r as TimelineRecord).id, 64) !== undefined)
        .sort((a, b) => order(a) - order(b)).slice(0, 100);
      const steps: StepUpdate[] = stages.map((r) => ({ id: `stage-${apiText(r.id, 64)}`, name: apiText(r.name, 200) ?? apiText(r.id, 64) ?? "", status: stepStatus(r.state, r.result) }));
      const state = apiTextWhole(current.body?.state, 100) ?? "unknown";
      if (state !== "completed") return { done: false, ok: false, status: state, steps, ...(state === "canceling" ? { meaning: "is being cancelled in Azure DevOps" } : {}) };
      const result = apiTextWhole(current.body?.result, 100) ?? "unknown";
      const known = RESULTS.get(result) ?? { ok: false, meaning: "ended without a result the runner knows" };
      if (result === "partiallySucceeded") ctx.log.warn(`${INTEGRATION}: run ${runId} ${known.meaning}`);
      return { done: true, ok: known.ok, status: result, steps, meaning: known.meaning };
    },
    cancel,
  }, ctx, input.pollMs ?? 5000);
  if (!final.ok) throw new EdgeError("integration_failed", `${INTEGRATION}: run ${runId} of pipeline ${input.pipelineId} ended "${final.status}": it ${final.meaning ?? "failed"}${runUrl === undefined ? "" : ` (${runUrl})`}`);
  return { runId, runUrl, result: final.status };
}

function order(record: TimelineRecord): number {
  return typeof record.order === "number" && Number.isFinite(record.order) ? record.order : 0;
}

function stepStatus(state: string | undefined, result: string | null | undefined): StepUpdate["status"] {
  if (state === "completed") {
    if (result === "succeeded" || result === "succeededWithIssues") return "succeeded";
    if (result === "skipped") return "skipped";
    return "failed";
  }
  return state === "inProgress" ? "running" : "pending";
}

/**
 * meshStack AZURE_DEVOPS (azureDevOpsBaseUrl, organization, project, pipelineId,
 * personalAccessToken, async, refName), started as meshcloud's runner does (AzureDevOpsClient.kt
 * triggerPipeline): every input that is not an environment input, and MESHSTACK_BEHAVIOR, as
 * template parameters (texts as meshcloud writes them: jvm-text.ts); the pipeline declares them
 * as `parameters:`. No queue-time variables.
 */
function fromMeshstack(run: MeshstackRun): AzureInput {
  const field = implementationFields(run, "AZURE_DEVOPS");
  const need = field.required;
  const pipelineId = Number(need("pipelineId"));
  if (!Number.isInteger(pipelineId) || pipelineId < 1) throw new EdgeError("input_invalid", "Cannot run a meshStack AZURE_DEVOPS run: implementation.pipelineId is not a number");
  // Keyed by meshStack's input keys: without a prototype, an input named "__proto__" is one like any other.
  const templateParameters = textMap();
  for (const item of inputListOf(run, "AZURE_DEVOPS")) {
    const text = item.isEnvironment ? undefined : jvmText(item.value);
    if (text !== undefined) templateParameters[item.key] = text;
  }
  templateParameters.MESHSTACK_BEHAVIOR = String(run.behavior ?? "");
  const input: AzureInput = {
    organization: need("organization"), project: need("project"), pipelineId, pat: need("personalAccessToken"),
    mode: run.async === true ? "async" : "sync", meshstack: run.meshstack, templateParameters,
  };
  const base = field.optional("azureDevOpsBaseUrl"), ref = field.optional("refName");
  if (base !== undefined) input.baseUrl = base;
  if (ref !== undefined) input.ref = ref.startsWith("refs/") ? ref : `refs/heads/${ref}`;
  return input;
}

export default definePlugin({
  name: "azure-devops-pipeline",
  version: "1.0.0",
  actions: { default: run, run, apply: run, destroy: run, detect: run },
});
