// Built-in "gitlab-pipeline": starts a GitLab CI/CD pipeline on gitlab.com or a self-managed
// instance, with a pipeline trigger token (POST /projects/:id/trigger/pipeline) or a project
// access token (POST /projects/:id/pipeline). Sync mode follows the pipeline and its jobs (steps)
// to the end; cancel cancels the pipeline; async passes the job's callback as variables and ends
// at once. A trigger whose answer is lost is sent again only when a token can check that it did
// not start a pipeline (by the EDGE_RUN_ID variable it carries).

import { randomUUID } from "node:crypto";
import { EdgeError } from "../../../errors.ts";
import { definePlugin, type ActionContext, type StepUpdate } from "../../sdk.ts";
import { AlreadyDone, ApiClient } from "../api-client.ts";
import { MAX_PAGES, readPages } from "../api-pages.ts";
import { callbackFor, callbackVariables } from "../callback-info.ts";
import { implementationFields, inputListOf, integrationInput, runObjectOf, type MeshstackRun } from "../meshstack-run.ts";
import { jvmText, textMap } from "../jvm-text.ts";
import { apiId, apiText, apiTextWhole, isApiId, webUrl } from "../api-values.ts";
import { cancelledAtStart, followRun, triggerSignal } from "../pipeline-run.ts";
import { GITLAB_PIPELINE_INPUT } from "./schema.ts";

export interface GitlabInput {
  baseUrl?: string;
  projectId: number | string;
  ref: string;
  variables?: Record<string, string>;
  /** The pipeline's `spec:inputs` (GitLab 17.11+). */
  inputs?: Record<string, string>;
  triggerTokenRef?: string;
  tokenRef?: string;
  /** meshStack: the trigger token as a value (decrypted by the adapter). */
  triggerToken?: string;
  mode?: "sync" | "async";
  pollMs?: number;
  meshstack?: Record<string, unknown>;
}

interface Pipeline {
  id: number;
  status?: string;
  web_url?: string;
}

const INTEGRATION = "GitLab";
/**
 * GitLab's final pipeline states: does the job succeed, and what it means. Maps, not objects: a
 * status from the API such as "constructor" must not find Object.prototype's member.
 */
const FINAL: ReadonlyMap<string, { ok: boolean; meaning: string }> = new Map([
  ["success", { ok: true, meaning: "succeeded" }],
  ["failed", { ok: false, meaning: "failed" }],
  ["canceled", { ok: false, meaning: "was cancelled in GitLab" }],
  // The job asked for the pipeline to run; none of it did.
  ["skipped", { ok: false, meaning: "was skipped: none of its jobs ran" }],
]);
/**
 * States in which a pipeline waits on something the user may need to know. `manual` (GitLab shows
 * it as blocked) and `scheduled` are not final: a person may still run the job, so the runner
 * keeps following until then or until the job's timeout.
 */
const WAITING: ReadonlyMap<string, string> = new Map([
  ["manual", "is blocked: it waits for someone to run a manual job in GitLab"],
  ["scheduled", "waits for a delayed job's scheduled time"],
  ["waiting_for_resource", "waits for a resource group"],
  ["pending", "waits for a runner"],
  ["canceling", "is being cancelled in GitLab"],
]);

async function trigger(raw: unknown, ctx: ActionContext): Promise<Record<string, unknown>> {
  const input = integrationInput<GitlabInput>(raw, GITLAB_PIPELINE_INPUT, "gitlab-pipeline", fromMeshstack);
  const mode = input.mode ?? "sync";
  const api = new ApiClient(ctx);
  const project = `${(input.baseUrl ?? "https://gitlab.com").replace(/\/+$/, "")}/api/v4/projects/${encodeURIComponent(String(input.projectId))}`;
  const token = input.tokenRef === undefined ? undefined : await ctx.secrets.get(input.tokenRef);
  const triggerToken = input.triggerToken ?? (input.triggerTokenRef === undefined ? undefined : await ctx.secrets.get(input.triggerTokenRef));
  if (mode === "sync" && token === undefined) throw new EdgeError("input_invalid", "GitLab: sync mode reads the pipeline and its jobs: give tokenRef (a project access token with read_api or api)");
  const headers = token === undefined ? {} : { "private-token": token };
  const correlation = `${ctx.jobId}.${ctx.attempt}.${randomUUID().slice(0, 8)}`;
  const own: Record<string, string> = { EDGE_RUN_ID: correlation };
  if (mode === "async") Object.assign(own, callbackVariables(await callbackFor(ctx, input.meshstack, INTEGRATION)));
  // A meshStack run's variables are meshcloud's runner's, which win over the runner's own as
  // they would there (an environment input named MESHSTACK_RUN_TOKEN is sent as it is).
  const variables: Record<string, string> = input.meshstack === undefined ? { ...input.variables, ...own } : { ...own, ...input.variables };
  const inputs = Object.entries(input.inputs ?? {});

  let found: Pipeline | undefined;
  const since = new Date(Date.now() - 60_000).toISOString();
  // Only with a token: list the recent pipelines of the ref and look for our EDGE_RUN_ID.
  const alreadyDone = token === undefined ? undefined : async (): Promise<boolean> => {
    const listed = await api.request<Pipeline[]>({ integration: INTEGRATION, call: "list pipelines", method: "GET", url: `${project}/pipelines?ref=${encodeURIComponent(input.ref)}&updated_after=${since}&order_by=id&sort=desc&per_page=20`, headers, idempotent: true });
    for (const pipeline of (Array.isArray(listed.body) ? listed.body : []).slice(0, 20)) {
      if (!isApiId(pipeline?.id)) continue;
      const vars = await api.request<Array<{ key: string; value: string }>>({ integration: INTEGRATION, call: `read variables of pipeline ${pipeline.id}`, method: "GET", url: `${project}/pipelines/${pipeline.id}/variables`, headers, idempotent: true });
      if ((Array.isArray(vars.body) ? vars.body : []).slice(0, 1000).some((v) => v?.key === "EDGE_RUN_ID" && v.value === correlation)) {
        found = pipeline;
        return true;
      }
    }
    return false;
  };

  ctx.step({ id: "trigger", name: "Start pipeline", status: "running" });
  // A cancel while the trigger is out still gets its answer, to cancel what it started.
  const signal = triggerSignal(ctx.signal);
  let pipeline: Pipeline;
  try {
    if (triggerToken !== undefined) {
      const form = new URLSearchParams({ token: triggerToken, ref: input.ref });
      for (const [key, value] of Object.entries(variables)) form.set(`variables[${key}]`, value);
      for (const [key, value] of inputs) form.set(`inputs[${key}]`, value);
      const answer = await api.request<Pipeline>({ integration: INTEGRATION, call: "trigger the pipeline", method: "POST", url: `${project}/trigger/pipeline`, body: form, idempotent: false, accept: [404], signal, ...(alreadyDone === undefined ? {} : { alreadyDone }) });
      // GitLab answers a wrong trigger token like an unknown project, so neither is revealed.
      if (answer.status === 404) throw new EdgeError("integration_unauthorized", `GitLab: cannot trigger the pipeline (POST ${project.replace(/^https?:\/\/[^/]+/, "")}/trigger/pipeline): the trigger token was refused or the project does not exist (404)`);
      pipeline = answer.body;
    } else {
      const body = { ref: input.ref, variables: Object.entries(variables).map(([key, value]) => ({ key, value, variable_type: "env_var" })), ...(inputs.length === 0 ? {} : { inputs: Object.fromEntries(inputs) }) };
      pipeline = (await api.request<Pipeline>({ integration: INTEGRATION, call: "create the pipeline", method: "POST", url: `${project}/pipeline`, headers, body, idempotent: false, signal, ...(alreadyDone === undefined ? {} : { alreadyDone }) })).body;
    }
  } catch (error) {
    if (!(error instanceof AlreadyDone) || found === undefined) {
      ctx.step({ id: "trigger", name: "Start pipeline", status: "failed" });
      throw error;
    }
    ctx.log.info(`GitLab: pipeline ${found.id} was started by an earlier try; not starting another`);
    pipeline = found;
  }
  const id = apiId(pipeline?.id, INTEGRATION, "pipeline");
  const webLink = webUrl(pipeline?.web_url);
  ctx.step({ id: "trigger", name: "Start pipeline", status: "succeeded" });
  ctx.outputs.set("pipelineId", id);
  if (webLink !== undefined) ctx.outputs.set("pipelineUrl", webLink);
  ctx.log.info(`GitLab: pipeline ${id} started ${webLink ?? ""}`);
  const cancel = async (signal: AbortSignal): Promise<void> => {
    await api.request({ integration: INTEGRATION, call: `cancel pipeline ${id}`, method: "POST", url: `${project}/pipelines/${id}/cancel`, headers, idempotent: true, signal });
  };
  // Also in async mode: a job cancelled while its pipeline was being started does not leave it going
  // (cancelling needs tokenRef; with only a trigger token the error says it cannot).
  if (ctx.signal.aborted) throw await cancelledAtStart({ integration: INTEGRATION, label: `pipeline ${id}`, cancel }, ctx);
  if (mode === "async") return { mode: "async", pipelineId: id, pipelineUrl: webLink };
  let toldMore = false;
  const final = await followRun({
    integration: INTEGRATION,
    label: `pipeline ${id}`,
    ...(webLink === undefined ? {} : { url: webLink }),
    async poll() {
      const current = await api.request<Pipeline>({ integration: INTEGRATION, call: `read pipeline ${id}`, method: "GET", url: `${project}/pipelines/${id}`, headers, idempotent: true });
      type Job = { id: number; name?: string; stage?: string; status?: string };
      const jobs = await readPages<Job>(api, { integration: INTEGRATION, call: `list jobs of pipeline ${id}`, method: "GET", url: `${project}/pipelines/${id}/jobs?per_page=100`, headers, idempotent: true }, (body) => (Array.isArray(body) ? (body as Job[]) : []));
      if (jobs.more && !toldMore) {
        toldMore = true;
        ctx.log.warn(`GitLab: pipeline ${id} has more than ${MAX_PAGES * 100} jobs; only the first ${MAX_PAGES * 100} are shown as steps (the pipeline's result is still its own)`);
      }
      // The stage whole or only its length: the job's name follows it, so a cut there would not end
      // the text; the name is cut only at the end, where the runner masks a split secret (job-text.ts).
      const steps: StepUpdate[] = jobs.items.slice(0, MAX_PAGES * 100).filter((job) => isApiId(job?.id)).map((job) => ({ id: `job-${job.id}`, name: `${apiTextWhole(job.stage, 100) ?? ""}: ${apiText(job.name, 200) ?? job.id}`.slice(0, 200), status: stepStatus(job.status) }));
      const status = apiTextWhole(current.body?.status, 100) ?? "unknown";
      const final = FINAL.get(status);
      if (final !== undefined) return { done: true, ok: final.ok, status, steps, meaning: final.meaning };
      const waiting = WAITING.get(status);
      return { done: false, ok: false, status, steps, ...(waiting === undefined ? {} : { meaning: waiting }) };
    },
    cancel,
  }, ctx, input.pollMs ?? 5000);
  if (!final.ok) throw new EdgeError("integration_failed", `GitLab: pipeline ${id} ended "${final.status}": it ${final.meaning ?? "failed"}${webLink === undefined ? "" : ` (${webLink})`}`);
  return { pipelineId: id, pipelineUrl: webLink, status: final.status };
}

function stepStatus(status: string | undefined): StepUpdate["status"] {
  switch (status) {
    case "success": return "succeeded";
    case "failed": case "canceled": return "failed";
    case "skipped": case "manual": return "skipped";
    case "running": return "running";
    default: return "pending";
  }
}

/**
 * meshStack GITLAB_CICD (gitlabBaseUrl, projectId, refName, pipelineTriggerToken): always async,
 * triggered as meshcloud's runner does (GitLabClient.kt buildPayload): MESHSTACK_BEHAVIOR, the
 * run object as MESHSTACK_RUN, each environment input as a variable and every other input as a
 * pipeline input (their texts as meshcloud writes them: jvm-text.ts), then the run's links.
 */
function fromMeshstack(run: MeshstackRun): GitlabInput {
  const field = implementationFields(run, "GITLAB_CICD");
  // Map order is meshcloud's form order; a key set twice keeps the later value, as GitLab does.
  // Keyed by meshStack's input keys: without a prototype, an input named "__proto__" is one like any other.
  const variables = textMap({ MESHSTACK_BEHAVIOR: String(run.behavior ?? ""), MESHSTACK_RUN: JSON.stringify(runObjectOf(run, "GITLAB_CICD")) });
  const pipelineInputs = textMap();
  for (const item of inputListOf(run, "GITLAB_CICD")) {
    const text = jvmText(item.value);
    if (text === undefined) continue;
    if (item.isEnvironment) variables[item.key] = text;
    else pipelineInputs[item.key] = text;
  }
  const links = run.meshstack;
  const link = (name: string, value: unknown) => {
    if (typeof value === "string") variables[name] = value;
  };
  link("MESHSTACK_SELF_URL", links.selfUrl);
  link("MESHSTACK_REGISTER_SOURCE_URL", links.registerSourceUrl);
  link("MESHSTACK_UPDATE_SOURCE_URL", links.updateSourceUrl);
  link("MESHSTACK_BASE_URL", links.meshstackBaseUrl);
  const input: GitlabInput = {
    projectId: field.required("projectId"), ref: field.required("refName"), triggerToken: field.required("pipelineTriggerToken"), mode: "async", meshstack: run.meshstack,
    variables, inputs: pipelineInputs,
  };
  const base = field.optional("gitlabBaseUrl");
  if (base !== undefined) input.baseUrl = base;
  return input;
}

export default definePlugin({
  name: "gitlab-pipeline",
  version: "1.0.0",
  actions: { default: trigger, trigger, apply: trigger, destroy: trigger, detect: trigger },
});
