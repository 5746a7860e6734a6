// The gitlab-pipeline integration through the compiled binary against a fake GitLab API
// (test/integrations/fakes/gitlab.ts): sync success, failure, cancel mid-run, async with the
// job's callback, rate limiting, a 5xx storm, an ambiguous trigger not sent twice, bad credentials.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { FakeGitlab } from "./fakes/gitlab.ts";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

let cluster: Cluster;
let gitlab: FakeGitlab;

beforeAll(async () => {
  gitlab = new FakeGitlab();
  await gitlab.start();
  cluster = await startCluster();
  await cluster.setSecret("gltrigger", gitlab.triggerToken);
  await cluster.setSecret("gltoken", gitlab.accessToken);
  await cluster.setSecret("glwrong", "glpat-wrong-token-value-987654321");
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await gitlab?.stop();
});
beforeEach(() => {
  gitlab.pollsToComplete = 2;
  gitlab.finalStatus = "success";
});

const input = (extra: Record<string, unknown> = {}) => ({ baseUrl: gitlab.url, projectId: "acme/app", ref: "main", variables: { TARGET: "prod" }, triggerTokenRef: "gltrigger", tokenRef: "gltoken", pollMs: 200, ...extra });
const submit = (extra: Record<string, unknown> = {}, secrets = "gltrigger,gltoken") => cluster.submit("gitlab-pipeline", "trigger", input(extra), ["--secrets", secrets]);

test("sync: trigger with the trigger token, follow the pipeline and its jobs with the access token", async () => {
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  const p = gitlab.pipelines.at(-1);
  expect(p?.source).toBe("trigger");
  expect(p?.variables.TARGET).toBe("prod");
  expect(p?.variables.EDGE_RUN_ID).toContain(done.id);
  expect(done.output).toEqual({ pipelineId: p?.id, pipelineUrl: `https://gitlab.test/acme/app/-/pipelines/${p?.id}`, status: "success" });
  const logs = await cluster.logs(done.id);
  expect(logs).toContain("step build: compile: succeeded");
  expect(logs).toContain("step deploy: release: succeeded");
}, 60_000);

test("sync with only a project access token creates the pipeline through the pipelines API", async () => {
  const done = await cluster.waitFor(await submit({ triggerTokenRef: undefined }, "gltoken"), terminal);
  expect(done.status).toBe("succeeded");
  expect(gitlab.pipelines.at(-1)?.source).toBe("api");
}, 60_000);

test("a failed pipeline fails the job", async () => {
  gitlab.finalStatus = "failed";
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.message).toMatch(/^GitLab: pipeline \d+ ended "failed"/);
}, 60_000);

test("cancel mid-run cancels the pipeline", async () => {
  gitlab.pollsToComplete = 10_000;
  const id = await submit();
  const deadline = Date.now() + 20_000;
  while (!(await cluster.logs(id)).includes("step build: compile: succeeded") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect((await cluster.cli(["job", "cancel", id])).code).toBe(0);
  expect((await cluster.waitFor(id, terminal)).status).toBe("cancelled");
  expect(gitlab.pipelines.at(-1)?.cancelled).toBe(true);
}, 60_000);

test("async: the trigger carries the job's callback URL and token as variables and the job ends at once", async () => {
  gitlab.pollsToComplete = 10_000;
  const done = await cluster.waitFor(await submit({ mode: "async", tokenRef: undefined }, "gltrigger"), terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toMatchObject({ mode: "async" });
  const vars = gitlab.pipelines.at(-1)?.variables ?? {};
  expect(vars.EDGE_CALLBACK_URL).toBe(`${cluster.url}/callback/v1/jobs/${done.id}`);
  const result = await fetch(`${vars.EDGE_CALLBACK_URL}/result`, { method: "POST", headers: { authorization: `Bearer ${vars.EDGE_CALLBACK_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ status: "failed", error: { code: "deploy_failed", message: "release job failed" } }) });
  expect(result.status).toBe(200);
  expect(((await cluster.job(done.id)) as { callbackResult?: unknown }).callbackResult).toMatchObject({ status: "failed", error: { code: "deploy_failed" } });
}, 60_000);

test("rate limiting (429 with Retry-After) is waited out", async () => {
  gitlab.rateLimit(2);
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("succeeded");
  expect(await cluster.logs(done.id)).toContain("rate limited");
}, 60_000);

test("a 5xx storm is retried; a trigger whose answer was lost is found by its EDGE_RUN_ID, not sent twice", async () => {
  gitlab.fault({ times: 4, match: (r) => r.method === "GET", reply: () => ({ status: 503, body: "Service Unavailable" }) });
  gitlab.fault({ times: 1, afterHandling: true, match: (r) => r.path.endsWith("/trigger/pipeline"), reply: () => ({ status: 502, body: "<html>502</html>" }) });
  const before = gitlab.pipelines.length;
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  expect(gitlab.pipelines.length).toBe(before + 1);
  expect(await cluster.logs(done.id)).toContain("was started by an earlier try");
}, 60_000);

test("bad credentials: a wrong access token and a wrong trigger token fail clearly without the secret", async () => {
  const wrongToken = await cluster.waitFor(await submit({ triggerTokenRef: undefined, tokenRef: "glwrong" }, "glwrong"), terminal);
  expect(wrongToken.status).toBe("failed");
  expect(wrongToken.error?.code).toBe("integration_unauthorized");
  expect(wrongToken.error?.message).toContain("GitLab: cannot create the pipeline");
  expect(wrongToken.error?.message).toContain("401 Unauthorized");
  expect(JSON.stringify(wrongToken)).not.toContain("glpat-wrong-token-value-987654321");
  const wrongTrigger = await cluster.waitFor(await submit({ mode: "async", tokenRef: undefined, triggerTokenRef: "glwrong" }, "glwrong"), terminal);
  expect(wrongTrigger.error?.code).toBe("integration_unauthorized");
  expect(wrongTrigger.error?.message).toContain("the trigger token was refused");
}, 60_000);
