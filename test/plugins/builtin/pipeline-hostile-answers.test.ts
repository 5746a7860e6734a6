// The GitHub, GitLab and Azure DevOps integrations read answers they do not control: a state named
// like an Object.prototype member ("constructor", "toString", "__proto__") is an unknown state, not
// a final one; a null timeline record is passed over; a run list that is not an array fails the job
// with integration_failed naming the field, and the step that was looking says so. The actions run
// directly (createTestContext) against the fakes of test/integrations/fakes/.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import azure from "../../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import github from "../../../src/plugins/builtin/github-workflow/plugin.ts";
import gitlab from "../../../src/plugins/builtin/gitlab-pipeline/plugin.ts";
import { EdgeError } from "../../../src/errors.ts";
import { createTestContext, type TestContext } from "../../../src/plugins/test-context.ts";
import { FakeAzureDevops } from "../../integrations/fakes/azure-devops.ts";
import { FakeGithub } from "../../integrations/fakes/github.ts";
import { FakeGitlab } from "../../integrations/fakes/gitlab.ts";
import type { Fault } from "../../fakes/http-fake.ts";

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
  gh.conclusion = "success";
  gl.pollsToComplete = 1;
  gl.finalStatus = "success";
  az.pollsToComplete = 1;
  az.result = "succeeded";
});

const PROTOTYPE_NAMES = ["constructor", "toString", "__proto__", "hasOwnProperty"];
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

test("GitLab: a pipeline status named like an Object.prototype member is not final: the runner keeps following until the job's cancel", async () => {
  for (const status of PROTOTYPE_NAMES) {
    gl.finalStatus = status;
    const { ctx, controller } = context();
    const run = gitlab.actions.trigger?.(glInput(), ctx) as Promise<unknown>;
    // Seen twice: the status was not taken as final at its first poll.
    const timer = setInterval(() => {
      if (logText(ctx).includes(`is "${status}"`) && gl.pipelines.at(-1)!.polls >= 3) controller.abort("Job timed out");
    }, 20);
    const error = await failure(run);
    clearInterval(timer);
    expect(error.code).toBe("job_cancelled");
    expect(gl.pipelines.at(-1)?.cancelled).toBe(true);
  }
});

test("GitHub: a conclusion named like an Object.prototype member is an unknown conclusion, not a known one", async () => {
  for (const conclusion of PROTOTYPE_NAMES) {
    gh.conclusion = conclusion;
    const error = await failure(github.actions.dispatch?.(ghInput(), context().ctx) as Promise<unknown>);
    expect(error.code).toBe("integration_failed");
    expect(error.message).toMatch(new RegExp(`^GitHub: workflow run \\d+ concluded "${conclusion}": it ended with a conclusion the runner does not know`));
  }
});

test("Azure DevOps: a result named like an Object.prototype member is an unknown result", async () => {
  for (const result of PROTOTYPE_NAMES) {
    az.result = result;
    const error = await failure(azure.actions.run?.(azInput(), context().ctx) as Promise<unknown>);
    expect(error.code).toBe("integration_failed");
    expect(error.message).toMatch(new RegExp(`^Azure DevOps: run \\d+ of pipeline 12 ended "${result}": it ended without a result the runner knows`));
  }
});

test("Azure DevOps: null, non-object and odd timeline records are passed over; the run is followed to its end", async () => {
  const odd: Fault = {
    match: (req) => req.method === "GET" && req.path.endsWith("/timeline"),
    times: 1000,
    reply: () => ({ status: 200, body: { records: [null, 5, "x", [], { id: "st-1", type: "Stage", name: { toString: 1 }, order: "first", state: "completed", result: "succeeded" }, { id: { toString: 1 }, type: "Stage" }] } }),
  };
  az.fault(odd);
  const { ctx } = context();
  try {
    expect(await azure.actions.run?.(azInput(), ctx)).toMatchObject({ result: "succeeded" });
  } finally {
    odd.times = 0;
  }
  expect(ctx.steps.filter((s) => s.id.startsWith("stage-"))).toEqual([{ id: "stage-st-1", name: "st-1", status: "succeeded" }]);
});

test("GitHub: a run list whose workflow_runs is not an array fails with integration_failed naming the field; the find-run step fails", async () => {
  gh.supportsRunDetails = false;
  gh.fault({ match: (req) => req.method === "GET" && /\/actions\/workflows\/[^/]+\/runs$/.test(req.path), times: 1, reply: () => ({ status: 200, body: { total_count: 1, workflow_runs: { a: 1 } } }) });
  const { ctx } = context();
  const error = await failure(github.actions.dispatch?.({ ...ghInput(), findRunTimeoutMs: 5000 }, ctx) as Promise<unknown>);
  expect(error.code).toBe("integration_failed");
  expect(error.message).toContain('"workflow_runs"');
  expect(ctx.steps.filter((s) => s.id === "find-run").at(-1)).toMatchObject({ status: "failed" });
});
