// Built-in "github-workflow": dispatches a GitHub Actions workflow (workflow_dispatch with ref and
// inputs) as a GitHub App or with a token, on github.com or GitHub Enterprise Server. Sync mode
// finds the run it started by a correlation id it passes as an input (never "the newest run"),
// follows it with the rate-limit headers honoured, reports its jobs as steps and maps the
// conclusion to the result; cancel cancels the run. Async mode passes the job's callback (URL and
// token, or meshStack's run URLs and token) as inputs and ends the runner's part at once.

import { randomUUID } from "node:crypto";
import { EdgeError, errorMessage } from "../../../errors.ts";
import { definePlugin, type ActionContext, type StepUpdate } from "../../sdk.ts";
import { AlreadyDone, ApiClient } from "../api-client.ts";
import { MAX_PAGES, readPages } from "../api-pages.ts";
import { callbackFor } from "../callback-info.ts";
import { apiId, apiText, apiTextWhole, isApiId, webUrl } from "../api-values.ts";
import { cancelledAtStart, cancelRun, CANCEL_BUDGET_MS, followRun, triggerSignal } from "../pipeline-run.ts";
import { sleep } from "../../../util/time.ts";
import { forgetInstallationToken } from "./app-auth.ts";
import { appAuth, githubCredential } from "./github-credential.ts";
import { integrationInput } from "../meshstack-run.ts";
import { fromMeshstack, RUN_OBJECT_INPUT, runObjectTooLarge } from "./meshstack-input.ts";
import { checkDispatchInputs } from "./dispatch-limits.ts";
import { dispatchWentThrough, LIST_LAG_MS } from "./lost-dispatch.ts";
import { GITHUB_WORKFLOW_INPUT } from "./schema.ts";

export interface GithubInput {
  baseUrl?: string;
  owner: string;
  repo: string;
  workflow: string;
  ref: string;
  inputs?: Record<string, string>;
  app?: { appId: string | number; privateKeyRef?: string; privateKey?: string; installationId?: string | number };
  tokenRef?: string;
  mode?: "sync" | "async";
  pollMs?: number;
  runIdInput?: string | null;
  findRunTimeoutMs?: number;
  /** meshStack: the run's URLs and uuid (its inputs are in `inputs` already). */
  meshstack?: Record<string, unknown>;
}

interface WorkflowRun {
  id: number;
  name?: string;
  display_title?: string;
  status?: string;
  conclusion?: string | null;
  html_url?: string;
  created_at?: string;
}

const INTEGRATION = "GitHub";

/**
 * Every conclusion GitHub documents for a completed run: does the job succeed, and what it means.
 * Maps, not objects: a value from the API such as "constructor" must not find Object.prototype's member.
 */
const CONCLUSIONS: ReadonlyMap<string, { ok: boolean; meaning: string }> = new Map([
  ["success", { ok: true, meaning: "succeeded" }],
  // GitHub counts neutral as passing (a required check is satisfied by it).
  ["neutral", { ok: true, meaning: "ended neutral (GitHub counts it as passing)" }],
  ["failure", { ok: false, meaning: "failed" }],
  ["cancelled", { ok: false, meaning: "was cancelled on GitHub" }],
  ["timed_out", { ok: false, meaning: "hit its timeout on GitHub" }],
  // The job asked for the workflow to run; none of it did.
  ["skipped", { ok: false, meaning: "was skipped: none of its jobs ran" }],
  ["action_required", { ok: false, meaning: "needs a maintainer's approval on GitHub before it can run" }],
  ["stale", { ok: false, meaning: "went stale on GitHub (it did not complete in time)" }],
  ["startup_failure", { ok: false, meaning: "could not start (the workflow file is invalid or not allowed to run)" }],
]);
/** States of a run that is not completed, where it waits on something the user may need to know. */
const WAITING: ReadonlyMap<string, string> = new Map([
  ["queued", "waits for a runner"],
  ["waiting", "waits for a deployment protection rule (a review or a wait timer)"],
  ["pending", "waits for another run of its concurrency group"],
]);

async function dispatch(raw: unknown, ctx: ActionContext): Promise<Record<string, unknown>> {
  const input = integrationInput<GithubInput>(raw, GITHUB_WORKFLOW_INPUT, "github-workflow", fromMeshstack);
  const base = (input.baseUrl ?? "https://api.github.com").replace(/\/+$/, "");
  try {
    return await dispatchWith(input, base, ctx);
  } catch (error) {
    // A refused App token (revoked, or its installation changed) is not kept for the next job.
    if (input.app !== undefined && error instanceof EdgeError && error.code === "integration_unauthorized") forgetInstallationToken(appAuth(input, base));
    throw error;
  }
}

async function dispatchWith(input: GithubInput, base: string, ctx: ActionContext): Promise<Record<string, unknown>> {
  const api = new ApiClient(ctx);
  const repo = `${base}/repos/${input.owner}/${input.repo}`;
  // What each call authenticates with, asked for per call (an App's token is renewed), and whose rate limit it draws on.
  const auth = { credential: await githubCredential(api, input, base, ctx) };
  const correlation = input.meshstack !== undefined ? String(input.meshstack.runUuid ?? randomUUID()) : `${ctx.jobId}.${ctx.attempt}.${randomUUID().slice(0, 8)}`;
  const inputs: Record<string, string> = { ...input.inputs };
  const runIdInput = input.runIdInput === undefined ? "edge_run_id" : input.runIdInput;
  if (runIdInput !== null) inputs[runIdInput] = correlation;
  const mode = input.mode ?? "sync";
  // A meshStack run's inputs are meshcloud's (meshstack-input.ts): the run object or its URL
  // already carries the register/update links and the run token; edge jobs get their callback.
  if (mode === "async" && input.meshstack === undefined) {
    const callback = await callbackFor(ctx, undefined, INTEGRATION);
    if (callback.kind === "edge") Object.assign(inputs, { edge_callback_url: callback.url, edge_callback_token: callback.token });
  }
  // The run's uuid is in the run object or its URL: a workflow that shows either in its run-name is found by it.
  const byRunObject = input.meshstack !== undefined;
  checkDispatchInputs(inputs, input.workflow, (name) => (byRunObject && name === RUN_OBJECT_INPUT ? runObjectTooLarge(inputs[name] ?? "") : undefined));

  const cancelCall = async (id: number, signal: AbortSignal): Promise<void> => {
    // 409: the run already completed, nothing left to cancel.
    await api.request({ integration: INTEGRATION, call: `cancel workflow run ${id}`, method: "POST", url: `${repo}/actions/runs/${id}/cancel`, ...auth, idempotent: true, signal, accept: [409] });
  };

  // The server filters by a date, the day before: GitHub's documented `created` syntax has no
  // fractional seconds (a timestamp with them was seen to match nothing). The minute is checked
  // here: a meshStack run's id (its uuid) is the same in every attempt, so an earlier attempt's
  // run must not be taken for this one's.
  const notBefore = Date.now() - 60_000;
  const since = new Date(notBefore - 86_400_000).toISOString().slice(0, 10);
  const findRun = async (signal?: AbortSignal): Promise<WorkflowRun | undefined> => {
    const query = new URLSearchParams({ event: "workflow_dispatch", branch: input.ref, created: `>=${since}`, per_page: "100" });
    const listed = await api.request<{ workflow_runs?: unknown }>({ integration: INTEGRATION, call: "list workflow runs", method: "GET", url: `${repo}/actions/workflows/${encodeURIComponent(input.workflow)}/runs?${query}`, ...auth, idempotent: true, ...(signal === undefined ? {} : { signal }) });
    const runs = listed.body?.workflow_runs ?? [];
    if (!Array.isArray(runs)) throw new EdgeError("integration_failed", `GitHub: the list of workflow runs has no array "workflow_runs" (${runs === null ? "null" : typeof runs})`);
    return (runs as Array<Partial<WorkflowRun> | null>).slice(0, 100).find((run): run is WorkflowRun => isApiId(run?.id) && Date.parse(apiText(run.created_at, 100) ?? "") >= notBefore && `${apiText(run.display_title, 1000) ?? ""} ${apiText(run.name, 1000) ?? ""}`.includes(correlation));
  };

  ctx.step({ id: "dispatch", name: `Dispatch ${input.workflow}`, status: "running" });
  const dispatchUrl = `${repo}/actions/workflows/${encodeURIComponent(input.workflow)}/dispatches`;
  // A cancel while the dispatch is out still gets its answer, to cancel the run it started.
  const signal = triggerSignal(ctx.signal);
  // After an ambiguous failure: a run carrying our id means the dispatch went through (lost-dispatch.ts).
  const alreadyDone = (): Promise<boolean> => dispatchWentThrough({ findRun, windowMs: Math.min(input.findRunTimeoutMs ?? LIST_LAG_MS, LIST_LAG_MS), pollMs: input.pollMs ?? 5000, signal: ctx.signal });
  const send = (details: boolean) => api.request<{ workflow_run_id?: unknown; html_url?: unknown }>({
    integration: INTEGRATION, call: `dispatch workflow "${input.workflow}"`, method: "POST", url: dispatchUrl, ...auth,
    // return_run_details (GitHub, Feb 2026) answers 200 with the run's id: no search needed.
    body: details ? { ref: input.ref, inputs, return_run_details: true } : { ref: input.ref, inputs }, idempotent: false, signal,
    ...(details ? { accept: [400, 422] } : {}),
    // Without a correlation id nothing can tell whether a lost dispatch went through: it is not sent again.
    ...(runIdInput === null && !byRunObject ? {} : { alreadyDone }),
  });
  let dispatched: WorkflowRun | undefined;
  try {
    let answer = await send(true);
    // A server without return_run_details (an older GitHub Enterprise Server) refuses the field: send it without.
    if (answer.status === 400 || answer.status === 422) {
      ctx.log.info(`GitHub: the server refused return_run_details (${answer.status}); dispatching without it`);
      answer = await send(false);
    }
    const id = answer.body?.workflow_run_id;
    const url = webUrl(answer.body?.html_url);
    if (answer.status === 200 && id !== undefined) dispatched = { id: apiId(id, INTEGRATION, "workflow run"), ...(url === undefined ? {} : { html_url: url }) };
  } catch (error) {
    if (!(error instanceof AlreadyDone)) {
      ctx.step({ id: "dispatch", name: `Dispatch ${input.workflow}`, status: "failed" });
      throw error;
    }
    ctx.log.info("GitHub: the dispatch went through on an earlier try; not sending it again");
  }
  ctx.step({ id: "dispatch", name: `Dispatch ${input.workflow}`, status: "succeeded" });
  ctx.log.info(`GitHub: dispatched ${input.owner}/${input.repo} ${input.workflow} on ${input.ref} (correlation id ${correlation}${dispatched === undefined ? "" : `, run ${dispatched.id}`})`);
  // Also in async mode: a job cancelled while its dispatch was out does not leave the run going.
  if (dispatched !== undefined && ctx.signal.aborted) {
    const id = dispatched.id;
    throw await cancelledAtStart({ integration: INTEGRATION, label: `workflow run ${id}`, cancel: (budget) => cancelCall(id, budget) }, ctx);
  }
  if (mode === "async") return { mode: "async", correlationId: correlation, ...(dispatched === undefined ? {} : { runId: dispatched.id, runUrl: dispatched.html_url }) };
  if (dispatched === undefined && runIdInput === null && !byRunObject) throw new EdgeError("input_invalid", "GitHub: this server does not return the run it started; sync mode needs runIdInput to find it");
  const found = dispatched ?? (await waitForRun(findRun, input, ctx, (id, budget) => cancelRun({ integration: INTEGRATION, label: `workflow run ${id}`, cancel: (signal) => cancelCall(id, signal) }, ctx, budget)));
  const run: WorkflowRun = { id: found.id, ...(webUrl(found.html_url) === undefined ? {} : { html_url: found.html_url }) };
  ctx.outputs.set("runId", run.id);
  if (run.html_url !== undefined) ctx.outputs.set("runUrl", run.html_url);
  ctx.log.info(`GitHub: following workflow run ${run.id} ${run.html_url ?? ""}`);
  let toldMore = false;
  const final = await followRun({
    integration: INTEGRATION,
    label: `workflow run ${run.id}`,
    ...(run.html_url === undefined ? {} : { url: run.html_url }),
    async poll() {
      const current = await api.request<WorkflowRun>({ integration: INTEGRATION, call: `read workflow run ${run.id}`, method: "GET", url: `${repo}/actions/runs/${run.id}`, ...auth, idempotent: true });
      type Job = { id: number; name?: string; status?: string; conclusion?: string | null };
      const jobs = await readPages<Job>(api, { integration: INTEGRATION, call: `list jobs of run ${run.id}`, method: "GET", url: `${repo}/actions/runs/${run.id}/jobs?per_page=100`, ...auth, idempotent: true }, (body) => {
        const listed = (body as { jobs?: unknown } | undefined)?.jobs;
        return Array.isArray(listed) ? (listed as Job[]) : [];
      });
      if (jobs.more && !toldMore) {
        toldMore = true;
        ctx.log.warn(`GitHub: workflow run ${run.id} has more than ${MAX_PAGES * 100} jobs; only the first ${MAX_PAGES * 100} are shown as steps (the run's result is still its own)`);
      }
      const steps: StepUpdate[] = jobs.items.slice(0, MAX_PAGES * 100).filter((job) => isApiId(job?.id)).map((job) => ({ id: `job-${job.id}`, name: apiText(job.name, 200) ?? String(job.id), status: stepStatus(job.status, job.conclusion) }));
      const status = apiTextWhole(current.body?.status, 100) ?? "unknown";
      const waiting = WAITING.get(status);
      if (status !== "completed") return { done: false, ok: false, status, steps, ...(waiting === undefined ? {} : { meaning: waiting }) };
      const conclusion = apiTextWhole(current.body?.conclusion, 100) ?? "none";
      const known = CONCLUSIONS.get(conclusion) ?? { ok: false, meaning: "ended with a conclusion the runner does not know" };
      return { done: true, ok: known.ok, status: conclusion, steps, meaning: known.meaning };
    },
    cancel: (signal) => cancelCall(run.id, signal),
  }, ctx, input.pollMs ?? 5000);
  if (!final.ok) throw new EdgeError("integration_failed", `GitHub: workflow run ${run.id} concluded "${final.status}": it ${final.meaning ?? "failed"}${run.html_url === undefined ? "" : ` (${run.html_url})`}`);
  return { runId: run.id, runUrl: run.html_url, conclusion: final.status };
}

/**
 * Looks for the dispatched run by its correlation id. Cancelled meanwhile, it looks once more
 * (the run exists even when the list did not show it yet) and cancels what it finds.
 */
async function waitForRun(findRun: (signal?: AbortSignal) => Promise<WorkflowRun | undefined>, input: GithubInput, ctx: ActionContext, cancel: (id: number, budget: AbortSignal) => Promise<string>): Promise<WorkflowRun> {
  const deadline = Date.now() + (input.findRunTimeoutMs ?? 300_000);
  ctx.step({ id: "find-run", name: "Find the workflow run", status: "running" });
  try {
    for (;;) {
      const run = await findRun();
      if (run !== undefined) {
        ctx.step({ id: "find-run", name: "Find the workflow run", status: "succeeded" });
        return run;
      }
      if (Date.now() > deadline) {
        throw new EdgeError("integration_failed", `GitHub: no run of "${input.workflow}" shows the correlation id within ${input.findRunTimeoutMs ?? 300_000} ms (put \${{ inputs.${input.runIdInput ?? "edge_run_id"} }} in the workflow's run-name)`);
      }
      await sleep(Math.min(input.pollMs ?? 5000, 5000), ctx.signal);
      if (ctx.signal.aborted) throw new EdgeError("job_cancelled", "cancelled");
    }
  } catch (error) {
    if (!ctx.signal.aborted) {
      // Not found in time, or an unreadable list: the step says why rather than stay "running".
      ctx.step({ id: "find-run", name: "Find the workflow run", status: "failed", message: errorMessage(error).slice(0, 500) });
      throw error;
    }
    ctx.step({ id: "find-run", name: "Find the workflow run", status: "failed", message: "the job was cancelled" });
    // One budget for looking and cancelling: the pool's grace is short.
    const budget = AbortSignal.timeout(CANCEL_BUDGET_MS);
    const late = await findRun(budget).catch(() => undefined);
    const outcome = late === undefined ? "no run of it was found to cancel; it may still start" : await cancel(late.id, budget);
    throw new EdgeError("job_cancelled", `GitHub: cancelled while looking for the dispatched workflow run; ${outcome}`);
  }
}

function stepStatus(status: string | undefined, conclusion: string | null | undefined): StepUpdate["status"] {
  if (status !== "completed") return status === "in_progress" ? "running" : "pending";
  if (conclusion === "success") return "succeeded";
  if (conclusion === "skipped" || conclusion === "neutral") return "skipped";
  return "failed";
}

export default definePlugin({
  name: "github-workflow",
  version: "1.0.0",
  // meshStack names the action after the run's behavior.
  actions: { default: dispatch, dispatch, apply: dispatch, destroy: dispatch, detect: dispatch },
});
