// A job cancelled before its trigger is sent (here: while a secret was being resolved, as a Vault
// round trip) must not start the user's pipeline: ApiClient checks the job's own signal before
// every non-idempotent send; the trigger's signal (triggerSignal) outlives the job's only so the
// answer of a trigger already in flight arrives and its run is cancelled. Drives each plugin's
// action against its fake API (fakes/).
import { afterAll, beforeAll, expect, test } from "bun:test";
import azure from "../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import github from "../../src/plugins/builtin/github-workflow/plugin.ts";
import gitlab from "../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import { CALLBACK_TOKEN_REF, CALLBACK_URL_REF } from "../../src/plugins/builtin/callback-info.ts";
import { EdgeError } from "../../src/errors.ts";
import { createTestContext, type TestContext } from "../../src/plugins/test-context.ts";
import { FakeAzureDevops } from "./fakes/azure-devops.ts";
import { FakeGithub } from "./fakes/github.ts";
import { FakeGitlab } from "./fakes/gitlab.ts";

const gh = new FakeGithub();
const gl = new FakeGitlab();
const az = new FakeAzureDevops();
beforeAll(async () => { await Promise.all([gh.start(), gl.start(), az.start()]); });
afterAll(async () => { await Promise.all([gh.stop(), gl.stop(), az.stop()]); });

/** A context whose job is cancelled while `cancelOn` is being resolved. */
function cancelledWhileResolving(cancelOn: string, secrets: Record<string, string>): TestContext {
  const controller = new AbortController();
  const ctx = createTestContext({ signal: controller.signal, secrets });
  const get = ctx.secrets.get;
  ctx.secrets.get = async (ref: string) => {
    const value = await get(ref);
    if (ref === cancelOn) controller.abort("cancelled by the user");
    return value;
  };
  return ctx;
}
const callback = { [CALLBACK_URL_REF]: "https://controller.test/callback/v1/jobs/j1", [CALLBACK_TOKEN_REF]: "cb-token-0123456789abcdef" };

test("gitlab-pipeline trigger (trigger token, async): cancelled before the trigger: no pipeline is started", async () => {
  const before = gl.pipelines.length;
  const ctx = cancelledWhileResolving(CALLBACK_TOKEN_REF, { glt: gl.triggerToken, ...callback });
  const result = await (gitlab.actions.trigger?.({ baseUrl: gl.url, projectId: "acme/app", ref: "main", triggerTokenRef: "glt", mode: "async" }, ctx) as Promise<unknown>).then((r) => r, (e: unknown) => e);
  expect(gl.pipelines.length - before).toBe(0);
  expect(result).toMatchObject({ code: "job_cancelled" });
});

test("azure-devops-pipeline run (sync): cancelled before the run request: no run is started", async () => {
  const before = az.runs.length;
  const ctx = cancelledWhileResolving("az", { az: az.pat });
  const result = await (azure.actions.run?.({ baseUrl: az.url, organization: "acme", project: "Platform", pipelineId: 12, patRef: "az", pollMs: 100 }, ctx) as Promise<unknown>).then((r) => r, (e: unknown) => e);
  expect(az.runs.length - before).toBe(0);
  expect(result).toMatchObject({ code: "job_cancelled" });
});

test("github-workflow dispatch (token, async, server without return_run_details): cancelled before the dispatch: no run is started", async () => {
  gh.supportsRunDetails = false;
  const before = gh.runs.length;
  const ctx = cancelledWhileResolving(CALLBACK_TOKEN_REF, { gh: "ghp_fake_personal_token_value", ...callback });
  const result = await (github.actions.dispatch?.({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", mode: "async" }, ctx) as Promise<unknown>).then((r) => r, (e: unknown) => e);
  gh.supportsRunDetails = true;
  expect(gh.runs.length - before).toBe(0);
  // And if it were started: the job must not end "succeeded" with the run left going.
  expect(result).toBeInstanceOf(EdgeError);
  expect(result).toMatchObject({ code: "job_cancelled" });
});

test("azure-devops-pipeline run: cancelled while the run request is in flight: its answer still arrives and the run is cancelled", async () => {
  const controller = new AbortController();
  const ctx = createTestContext({ signal: controller.signal, secrets: { az: az.pat } });
  // Azure acts on the request at once, but its answer takes 400 ms: the job is cancelled meanwhile.
  az.fault({ times: 1, afterHandling: true, match: (r) => r.method === "POST" && r.path.endsWith("/runs"), reply: () => ({ status: 200, body: { id: az.runs.at(-1)?.id, state: "inProgress" }, delayMs: 400 }) });
  setTimeout(() => controller.abort("cancelled by the user"), 100);
  const before = az.runs.length;
  const result = await (azure.actions.run?.({ baseUrl: az.url, organization: "acme", project: "Platform", pipelineId: 12, patRef: "az", pollMs: 100 }, ctx) as Promise<unknown>).then((r) => r, (e: unknown) => e);
  expect(az.runs.length - before).toBe(1);
  expect(az.runs.at(-1)?.cancelled).toBe(true);
  expect(String((result as Error).message)).toContain("was cancelled while run");
});
