// What a user of the GitHub, GitLab and Azure DevOps integrations sees when a run ends, is
// cancelled or cannot be followed: every documented final state maps to a clear result, a waiting
// state is logged with what it waits for, the job's cancel cancels the remote run (also while the
// GitHub run is still being looked for) and reports it as a step, and ids from the API are checked
// before they go into a URL. The actions run directly (createTestContext) against the fakes of
// test/integrations/fakes/, written from the APIs' documentation.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import azure from "../../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import github from "../../../src/plugins/builtin/github-workflow/plugin.ts";
import gitlab from "../../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import { EdgeError } from "../../../src/errors.ts";
import { CALLBACK_TOKEN_REF, CALLBACK_URL_REF } from "../../../src/plugins/builtin/callback-info.ts";
import { createTestContext, type TestContext } from "../../../src/plugins/test-context.ts";
import { FakeAzureDevops } from "../../integrations/fakes/azure-devops.ts";
import { FakeGithub } from "../../integrations/fakes/github.ts";
import { FakeGitlab } from "../../integrations/fakes/gitlab.ts";

const gh = new FakeGithub();
const gl = new FakeGitlab();
const az = new FakeAzureDevops();
beforeAll(async () => {
  await Promise.all([gh.start(), gl.start(), az.start()]);
});
afterAll(async () => {
  await Promise.all([gh.stop(), gl.stop(), az.stop()]);
});
beforeEach(() => {
  gh.pollsToComplete = 1;
  gh.supportsRunDetails = true;
  gh.listLag = 0;
  gh.conclusion = "success";
  gl.finalStatus = "success";
  az.result = "succeeded";
  gl.pollsToComplete = 1;
  az.pollsToComplete = 1;
});

const secrets = { gh: "ghp_fake_personal_token_value", gl: gl.accessToken, az: az.pat };
function context(): { ctx: TestContext; controller: AbortController } {
  const controller = new AbortController();
  return { ctx: createTestContext({ signal: controller.signal, secrets }), controller };
}
const ghInput = () => ({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", pollMs: 100 });
const glInput = () => ({ baseUrl: gl.url, projectId: "acme/app", ref: "main", tokenRef: "gl", pollMs: 100 });
const azInput = () => ({ baseUrl: az.url, organization: "acme", project: "Platform", pipelineId: 12, patRef: "az", pollMs: 100 });
const failure = async (run: Promise<unknown>): Promise<EdgeError> => {
  const error = await run.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  return error as EdgeError;
};
const logText = (ctx: TestContext) => ctx.lines.map((l) => l.msg).join("\n");
/** Aborts the job once the log shows `text` (the run is being followed). */
function abortWhenLogged(ctx: TestContext, controller: AbortController, text: string): void {
  const timer = setInterval(() => {
    if (!logText(ctx).includes(text)) return;
    clearInterval(timer);
    controller.abort("Job timed out");
  }, 20);
}

test("GitHub: success and neutral succeed; every other documented conclusion fails naming what it means", async () => {
  const expected: Record<string, string | null> = {
    success: null, neutral: null,
    failure: "it failed", cancelled: "it was cancelled on GitHub", timed_out: "it hit its timeout on GitHub",
    skipped: "it was skipped: none of its jobs ran", action_required: "it needs a maintainer's approval",
    stale: "it went stale", startup_failure: "it could not start",
  };
  for (const [conclusion, meaning] of Object.entries(expected)) {
    gh.conclusion = conclusion;
    const { ctx } = context();
    const run = github.actions.dispatch?.(ghInput(), ctx) as Promise<Record<string, unknown>>;
    if (meaning === null) {
      expect(await run).toMatchObject({ conclusion });
      continue;
    }
    const error = await failure(run);
    expect(error.code).toBe("integration_failed");
    expect(error.message).toMatch(new RegExp(`^GitHub: workflow run \\d+ concluded "${conclusion}": ${meaning}`));
  }
});

test("GitLab: success succeeds; failed, canceled and skipped fail naming what they mean", async () => {
  const expected: Record<string, string> = { failed: "it failed", canceled: "it was cancelled in GitLab", skipped: "it was skipped: none of its jobs ran" };
  gl.finalStatus = "success";
  expect(await gitlab.actions.trigger?.(glInput(), context().ctx)).toMatchObject({ status: "success" });
  for (const [status, meaning] of Object.entries(expected)) {
    gl.finalStatus = status;
    const error = await failure(gitlab.actions.trigger?.(glInput(), context().ctx) as Promise<unknown>);
    expect(error.message).toMatch(new RegExp(`^GitLab: pipeline \\d+ ended "${status}": ${meaning}`));
  }
});

test("GitLab: a pipeline blocked on a manual job is not final: the job says what it waits for, and its timeout cancels the pipeline", async () => {
  gl.finalStatus = "manual";
  const { ctx, controller } = context();
  abortWhenLogged(ctx, controller, "is \"manual\"");
  const error = await failure(gitlab.actions.trigger?.(glInput(), ctx) as Promise<unknown>);
  expect(logText(ctx)).toContain("waits for someone to run a manual job in GitLab");
  expect(error.code).toBe("job_cancelled");
  expect(error.message).toMatch(/pipeline \d+ was cancelled/);
  expect(gl.pipelines.at(-1)?.cancelled).toBe(true);
  expect(ctx.steps.at(-1)).toMatchObject({ id: "cancel-run", status: "succeeded" });
});

test("Azure DevOps: succeeded and partiallySucceeded succeed (the latter with a warning); failed and canceled fail naming what they mean", async () => {
  for (const result of ["succeeded", "partiallySucceeded"]) {
    az.result = result;
    const { ctx } = context();
    expect(await azure.actions.run?.(azInput(), ctx)).toMatchObject({ result });
    if (result === "partiallySucceeded") expect(ctx.lines.some((l) => l.level === "warn" && l.msg.includes("continueOnError"))).toBe(true);
  }
  for (const [result, meaning] of Object.entries({ failed: "it failed", canceled: "it was cancelled in Azure DevOps" })) {
    az.result = result;
    const error = await failure(azure.actions.run?.(azInput(), context().ctx) as Promise<unknown>);
    expect(error.message).toMatch(new RegExp(`^Azure DevOps: run \\d+ of pipeline 12 ended "${result}": ${meaning}`));
  }
});

test("a job cancelled while following the run cancels the remote run and reports it as a step and in its error", async () => {
  gh.pollsToComplete = 10_000;
  const { ctx, controller } = context();
  abortWhenLogged(ctx, controller, "is \"in_progress\"");
  const error = await failure(github.actions.dispatch?.(ghInput(), ctx) as Promise<unknown>);
  const run = gh.runs.at(-1);
  expect(run?.cancelled).toBe(true);
  expect(error.code).toBe("job_cancelled");
  expect(error.message).toBe(`GitHub: stopped following workflow run ${run?.id}: the job was cancelled; workflow run ${run?.id} was cancelled`);
  expect(ctx.steps.at(-1)).toEqual({ id: "cancel-run", name: `Cancel workflow run ${run?.id}`, status: "succeeded" });
});

test("GitHub: a job cancelled while the dispatched run is still being looked for (older GHES) cancels that run", async () => {
  gh.supportsRunDetails = false;
  gh.pollsToComplete = 10_000;
  gh.listLag = 1;
  const { ctx, controller } = context();
  const before = gh.count("GET", /\/runs$/);
  const timer = setInterval(() => {
    if (gh.count("GET", /\/runs$/) > before) {
      clearInterval(timer);
      controller.abort();
    }
  }, 5);
  const error = await failure(github.actions.dispatch?.({ ...ghInput(), pollMs: 1000 }, ctx) as Promise<unknown>);
  const run = gh.runs.at(-1);
  expect(error.code).toBe("job_cancelled");
  expect(run?.cancelled).toBe(true);
  expect(error.message).toContain(`workflow run ${run?.id} was cancelled`);
});

test("when following fails, the error says the run may still be running and where", async () => {
  gh.pollsToComplete = 10_000;
  gh.fault({ times: 1, match: (r) => r.method === "GET" && /\/actions\/runs\/\d+$/.test(r.path) && gh.runs.at(-1)?.polls === 1, reply: () => ({ status: 404, body: { message: "Not Found" } }) });
  const { ctx } = context();
  const error = await failure(github.actions.dispatch?.(ghInput(), ctx) as Promise<unknown>);
  const run = gh.runs.at(-1);
  expect(error.code).toBe("integration_failed");
  expect(error.message).toContain(`answer 404: Not Found (stopped following: workflow run ${run?.id} may still be running (https://github.test/acme/app/actions/runs/${run?.id}))`);
});

test("ids from the API are checked before they go into a URL; a web link that is no http(s) URL is not passed on", async () => {
  gh.fault({ times: 1, afterHandling: true, match: (r) => r.path.endsWith("/dispatches"), reply: () => ({ status: 200, body: { workflow_run_id: -1, html_url: "https://github.test/x" } }) });
  const ghError = await failure(github.actions.dispatch?.(ghInput(), context().ctx) as Promise<unknown>);
  expect(ghError.message).toBe("GitHub: the answer's workflow run id is not a positive integer (-1)");
  expect(gh.requests.some((r) => r.path.includes("/runs/-1"))).toBe(false);

  gl.fault({ times: 1, afterHandling: true, match: (r) => r.path.endsWith("/pipeline"), reply: () => ({ status: 201, body: { id: 1.5, web_url: "https://gitlab.test/p/1" } }) });
  expect((await failure(gitlab.actions.trigger?.(glInput(), context().ctx) as Promise<unknown>)).message).toBe("GitLab: the answer's pipeline id is not a positive integer (1.5)");

  az.fault({ times: 1, afterHandling: true, match: (r) => r.method === "POST", reply: () => ({ status: 200, body: { id: az.runs.at(-1)?.id, state: "inProgress", _links: { web: { href: "javascript:alert(1)" } } } }) });
  const { ctx } = context();
  await azure.actions.run?.(azInput(), ctx);
  expect(ctx.outputs.all().runUrl).toBeUndefined();
});

test("an API outage longer than the client's own retries does not end the job: the runner keeps following the run", async () => {
  gh.pollsToComplete = 2;
  // Seven 502s in a row: more than the six tries one call gets.
  gh.fault({ times: 7, match: (r) => r.method === "GET" && /\/actions\/runs\/\d+$/.test(r.path), reply: () => ({ status: 502, body: { message: "Server Error" } }) });
  const { ctx } = context();
  expect(await github.actions.dispatch?.(ghInput(), ctx)).toMatchObject({ conclusion: "success" });
  expect(logText(ctx)).toContain("trying again for up to 10 min");
}, 30_000);

/** The trigger's POST (matched by `path`) answered 400 ms late, after the server acted on it. */
const slowTrigger = (path: RegExp, reply: () => { status: number; body: unknown }) => ({ times: 1, afterHandling: true, match: (r: { method: string; path: string }) => r.method === "POST" && path.test(r.path), reply: () => ({ ...reply(), delayMs: 400 }) });

/** Aborts the job 100 ms after the server has the trigger's POST, while its answer is still out. */
function abortOnceTriggered(server: { requests: { method: string; path: string }[] }, path: RegExp, controller: AbortController): void {
  const before = server.requests.length;
  const timer = setInterval(() => {
    if (!server.requests.slice(before).some((r) => r.method === "POST" && path.test(r.path))) return;
    clearInterval(timer);
    setTimeout(() => controller.abort(), 100);
  }, 5);
}

/** Each integration's trigger with `extra` input, how its server answers it, and whether its run was cancelled. */
function triggers(extra: Record<string, unknown>) {
  return {
    GitHub: { server: gh, path: /\/dispatches$/, run: (ctx: TestContext) => github.actions.dispatch?.({ ...ghInput(), ...extra }, ctx), cancelled: () => gh.runs.at(-1)?.cancelled, reply: () => ({ status: 200, body: { workflow_run_id: gh.runs.at(-1)?.id, html_url: `https://github.test/acme/app/actions/runs/${gh.runs.at(-1)?.id}` } }) },
    GitLab: { server: gl, path: /\/pipeline$/, run: (ctx: TestContext) => gitlab.actions.trigger?.({ ...glInput(), ...extra }, ctx), cancelled: () => gl.pipelines.at(-1)?.cancelled, reply: () => ({ status: 201, body: { id: gl.pipelines.at(-1)?.id, status: "created" } }) },
    "Azure DevOps": { server: az, path: /\/runs$/, run: (ctx: TestContext) => azure.actions.run?.({ ...azInput(), ...extra }, ctx), cancelled: () => az.runs.at(-1)?.cancelled, reply: () => ({ status: 200, body: { id: az.runs.at(-1)?.id, state: "inProgress" } }) },
  };
}

test("a job cancelled while its trigger is out learns of the run it started and cancels it (GitHub, GitLab, Azure DevOps)", async () => {
  for (const [name, c] of Object.entries(triggers({}))) {
    c.server.fault(slowTrigger(c.path, c.reply));
    const { ctx, controller } = context();
    abortOnceTriggered(c.server, c.path, controller);
    const error = await failure(c.run(ctx) as Promise<unknown>);
    expect([name, error.code]).toEqual([name, "job_cancelled"]);
    expect([name, c.cancelled()]).toEqual([name, true]);
    expect(error.message).toContain("was cancelled");
    expect(ctx.steps.at(-1)).toMatchObject({ id: "cancel-run", status: "succeeded" });
  }
});

test("async: a job cancelled while its trigger is out cancels the run it started instead of reporting it started (Azure DevOps, GitLab, GitHub)", async () => {
  const cases = triggers({ mode: "async" });
  gh.pollsToComplete = 10_000;
  for (const name of ["Azure DevOps", "GitLab", "GitHub"] as const) {
    const c = cases[name];
    c.server.fault(slowTrigger(c.path, c.reply));
    const controller = new AbortController();
    const ctx = createTestContext({ signal: controller.signal, secrets: { ...secrets, [CALLBACK_URL_REF]: "https://controller.test/callback/v1/jobs/j1", [CALLBACK_TOKEN_REF]: "cb-token" } });
    abortOnceTriggered(c.server, c.path, controller);
    const error = await failure(c.run(ctx) as Promise<unknown>);
    expect([name, error.code]).toEqual([name, "job_cancelled"]);
    expect([name, c.cancelled()]).toEqual([name, true]);
    expect(ctx.steps.at(-1)).toMatchObject({ id: "cancel-run", status: "succeeded" });
  }
});
