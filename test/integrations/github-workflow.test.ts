// The github-workflow integration through the compiled binary against a fake GitHub API
// (test/integrations/fakes/github.ts): sync success with App auth, failure, cancel mid-run, async
// with the job's callback, rate limiting, a 5xx storm, an ambiguous dispatch not sent twice, and
// bad credentials named clearly without the secret.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { FakeGithub } from "./fakes/github.ts";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

let cluster: Cluster;
let github: FakeGithub;

beforeAll(async () => {
  github = new FakeGithub();
  await github.start();
  cluster = await startCluster();
  await cluster.setSecret("ghkey", github.privateKeyPem);
  await cluster.setSecret("ghtoken", "ghp_fake_personal_token_value");
  await cluster.setSecret("ghwrong", "ghp_wrong_token_value_0123456789");
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await github?.stop();
});
beforeEach(() => {
  github.pollsToComplete = 2;
  github.conclusion = "success";
  github.supportsRunDetails = true;
  github.othersAfterEachDispatch = 0;
});

const input = (extra: Record<string, unknown> = {}) => ({
  baseUrl: github.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", inputs: { environment: "prod" },
  app: { appId: github.appId, privateKeyRef: "ghkey" }, pollMs: 200, ...extra,
});
const submit = (extra: Record<string, unknown> = {}, secrets = "ghkey") => cluster.submit("github-workflow", "dispatch", input(extra), ["--secrets", secrets]);

test("sync: App JWT, installation token, dispatch with the correlation input, the run followed to success, jobs as steps", async () => {
  const before = github.runs.length;
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  const run = github.runs.at(-1);
  expect(github.runs.length).toBe(before + 1);
  expect(run?.inputs.environment).toBe("prod");
  expect(run?.inputs.edge_run_id).toContain(done.id);
  expect(done.output).toEqual({ runId: run?.id, runUrl: `https://github.test/acme/app/actions/runs/${run?.id}`, conclusion: "success" });
  const logs = await cluster.logs(done.id);
  expect(logs).toContain("step build: succeeded");
  expect(logs).toContain("step deploy: succeeded");
  expect(github.count("GET", /\/installation$/)).toBeGreaterThanOrEqual(1);
}, 60_000);

test("sync on a server without return_run_details (older GHES): found by the correlation input in the run's title, not the newest run", async () => {
  github.supportsRunDetails = false;
  // Someone else's runs of the same workflow, newer than ours by the time we look.
  github.othersAfterEachDispatch = 2;
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("succeeded");
  const ours = github.runs.find((r) => r.inputs.edge_run_id?.startsWith(`${done.id}.`));
  expect(ours).toBeDefined();
  expect(done.output).toMatchObject({ runId: ours?.id });
  expect(github.runs.at(-1)?.id).not.toBe(ours?.id);
  expect(await cluster.logs(done.id)).toContain("refused return_run_details");
}, 60_000);

test("sync: a failed conclusion fails the job with integration_failed naming the run", async () => {
  github.conclusion = "failure";
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("integration_failed");
  expect(done.error?.message).toMatch(/^GitHub: workflow run \d+ concluded "failure"/);
}, 60_000);

test("cancel mid-run cancels the workflow run", async () => {
  github.pollsToComplete = 10_000;
  const id = await submit();
  const deadline = Date.now() + 20_000;
  while (!(await cluster.logs(id)).includes("following workflow run") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const run = github.runs.at(-1);
  expect((await cluster.cli(["job", "cancel", id])).code).toBe(0);
  const done = await cluster.waitFor(id, terminal);
  expect(done.status).toBe("cancelled");
  expect(run?.cancelled).toBe(true);
  expect(github.count("POST", new RegExp(`/actions/runs/${run?.id}/cancel$`))).toBe(1);
}, 60_000);

test("async: dispatch with the job's callback URL and token, end at once; the pipeline reports back with that token only", async () => {
  github.pollsToComplete = 10_000;
  const done = await cluster.waitFor(await submit({ mode: "async" }), terminal);
  expect(done.status).toBe("succeeded");
  expect(done.output).toMatchObject({ mode: "async" });
  const run = github.runs.at(-1);
  const url = run?.inputs.edge_callback_url ?? "";
  const token = run?.inputs.edge_callback_token ?? "";
  expect(url).toBe(`${cluster.url}/callback/v1/jobs/${done.id}`);
  // The token is a secret: masked in the job's logs.
  expect(await cluster.logs(done.id)).not.toContain(token);
  const post = (body: unknown, bearer: string) => fetch(`${url}/result`, { method: "POST", headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  expect((await post({ status: "succeeded" }, "someone-elses-token")).status).toBe(401);
  expect((await fetch(`${url}/steps`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ id: "deploy", status: "succeeded" }) })).status).toBe(200);
  expect((await post({ status: "succeeded", output: { url: "https://app.test" } }, token)).status).toBe(200);
  const after = (await cluster.job(done.id)) as { callbackResult?: unknown };
  expect(after.callbackResult).toMatchObject({ status: "succeeded", output: { url: "https://app.test" } });
}, 60_000);

test("rate limiting: 403 with x-ratelimit-remaining 0 and a 429 with Retry-After are waited out", async () => {
  github.rateLimit(1, "primary");
  github.rateLimit(1, "secondary");
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("succeeded");
  expect(await cluster.logs(done.id)).toContain("rate limited");
}, 60_000);

test("a 5xx storm on reads is retried with backoff; an ambiguous dispatch is not sent twice", async () => {
  github.fault({ times: 4, match: (r) => r.method === "GET" && r.path.includes("/actions/runs/"), reply: () => ({ status: 502, body: { message: "Server Error" } }) });
  // The dispatch is carried out, but the answer is lost in a 502.
  github.fault({ times: 1, afterHandling: true, match: (r) => r.path.endsWith("/dispatches"), reply: () => ({ status: 502, body: "<html>502 Bad Gateway</html>" }) });
  const before = github.runs.length;
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  expect(github.runs.length).toBe(before + 1);
  expect(await cluster.logs(done.id)).toContain("went through on an earlier try");
}, 60_000);

test("bad credentials fail clearly, naming GitHub and the call, without the token", async () => {
  const done = await cluster.waitFor(await cluster.submit("github-workflow", "dispatch", { ...input(), app: undefined, tokenRef: "ghwrong" }, ["--secrets", "ghwrong"]), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.code).toBe("integration_unauthorized");
  expect(done.error?.message).toContain('GitHub: cannot dispatch workflow "deploy.yml"');
  expect(done.error?.message).toContain("Bad credentials");
  expect(JSON.stringify(done)).not.toContain("ghp_wrong_token_value_0123456789");
  expect(await cluster.logs(done.id)).not.toContain("ghp_wrong_token_value_0123456789");
}, 60_000);

test("job submit github-workflow checks the input before sending", async () => {
  const bad = await cluster.cli(["job", "submit", "github-workflow", "--input", JSON.stringify({ owner: "acme", repo: "app", workflow: "d.yml", ref: "main" })]);
  expect(bad.code).toBe(64);
  expect(bad.output).toContain("input.app is required");
}, 60_000);
