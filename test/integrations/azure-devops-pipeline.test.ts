// The azure-devops-pipeline integration through the compiled binary against a fake Azure DevOps
// REST API 7.1 (test/integrations/fakes/azure-devops.ts): sync success with stages as steps,
// failure, cancel mid-run, async with the job's callback, rate limiting, a 5xx storm (reads retried,
// the run request not blindly repeated), bad credentials (401 and 203 sign-in page).

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { FakeAzureDevops } from "./fakes/azure-devops.ts";
import { startCluster, terminal, type Cluster } from "./cluster.ts";

let cluster: Cluster;
let azure: FakeAzureDevops;

beforeAll(async () => {
  azure = new FakeAzureDevops();
  await azure.start();
  cluster = await startCluster();
  await cluster.setSecret("azpat", azure.pat);
  await cluster.setSecret("azwrong", "azpat-wrong-0123456789-abcdef");
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await azure?.stop();
});
beforeEach(() => {
  azure.pollsToComplete = 2;
  azure.result = "succeeded";
  azure.signInPageForBadPat = false;
});

const input = (extra: Record<string, unknown> = {}) => ({ baseUrl: azure.url, organization: "acme", project: "Platform", pipelineId: 12, ref: "refs/heads/main", templateParameters: { environment: "prod" }, patRef: "azpat", pollMs: 200, ...extra });
const submit = (extra: Record<string, unknown> = {}, secrets = "azpat") => cluster.submit("azure-devops-pipeline", "run", input(extra), ["--secrets", secrets]);

test("sync: run with template parameters and ref, follow run and timeline (stages as steps) to success", async () => {
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.error).toBeUndefined();
  expect(done.status).toBe("succeeded");
  const run = azure.runs.at(-1);
  expect(run?.body.templateParameters).toEqual({ environment: "prod" });
  expect(run?.body.resources?.repositories?.self?.refName).toBe("refs/heads/main");
  expect(done.output).toEqual({ runId: run?.id, runUrl: `https://dev.azure.test/acme/Platform/_build/results?buildId=${run?.id}`, result: "succeeded" });
  const logs = await cluster.logs(done.id);
  expect(logs).toContain("step Build: succeeded");
  expect(logs).toContain("step Deploy: succeeded");
}, 60_000);

test("a failed run fails the job", async () => {
  azure.result = "failed";
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("failed");
  expect(done.error?.message).toMatch(/^Azure DevOps: run \d+ of pipeline 12 ended "failed"/);
}, 60_000);

test("cancel mid-run asks the build to cancel", async () => {
  azure.pollsToComplete = 10_000;
  const id = await submit();
  const deadline = Date.now() + 20_000;
  while (!(await cluster.logs(id)).includes("step Build: succeeded") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect((await cluster.cli(["job", "cancel", id])).code).toBe(0);
  expect((await cluster.waitFor(id, terminal)).status).toBe("cancelled");
  expect(azure.runs.at(-1)?.cancelled).toBe(true);
}, 60_000);

test("async: queue-time variables carry the job's callback; the job ends at once", async () => {
  azure.pollsToComplete = 10_000;
  const done = await cluster.waitFor(await submit({ mode: "async" }), terminal);
  expect(done.status).toBe("succeeded");
  const vars = azure.runs.at(-1)?.body.variables ?? {};
  expect(vars.EDGE_CALLBACK_URL?.value).toBe(`${cluster.url}/callback/v1/jobs/${done.id}`);
  expect(vars.EDGE_CALLBACK_TOKEN?.isSecret).toBe(true);
  const posted = await fetch(`${vars.EDGE_CALLBACK_URL?.value}/result`, { method: "POST", headers: { authorization: `Bearer ${vars.EDGE_CALLBACK_TOKEN?.value}`, "content-type": "application/json" }, body: JSON.stringify({ status: "succeeded" }) });
  expect(posted.status).toBe(200);
}, 60_000);

test("rate limiting (429 with Retry-After) is waited out", async () => {
  azure.rateLimit(2);
  const done = await cluster.waitFor(await submit(), terminal);
  expect(done.status).toBe("succeeded");
  expect(await cluster.logs(done.id)).toContain("rate limited");
}, 60_000);

test("a 5xx storm on reads is retried; a 5xx on the run request is not blindly repeated", async () => {
  azure.fault({ times: 4, match: (r) => r.method === "GET", reply: () => ({ status: 503, body: "Service Unavailable" }) });
  const ok = await cluster.waitFor(await submit(), terminal);
  expect(ok.error).toBeUndefined();
  expect(ok.status).toBe("succeeded");
  const before = azure.runs.length;
  azure.fault({ times: 1, afterHandling: true, match: (r) => r.method === "POST", reply: () => ({ status: 500, body: { message: "VS402874: internal error" } }) });
  const failed = await cluster.waitFor(await submit(), terminal);
  expect(failed.status).toBe("failed");
  expect(failed.error?.message).toContain("Azure DevOps: cannot run pipeline 12");
  expect(azure.runs.length).toBe(before + 1);
}, 60_000);

test("bad credentials (401, and a 203 sign-in page) fail clearly without the PAT", async () => {
  const wrong = await cluster.waitFor(await submit({ patRef: "azwrong" }, "azwrong"), terminal);
  expect(wrong.error?.code).toBe("integration_unauthorized");
  expect(wrong.error?.message).toContain("Azure DevOps: cannot run pipeline 12");
  expect(wrong.error?.message).toContain("TF400813");
  expect(JSON.stringify(wrong)).not.toContain("azpat-wrong-0123456789-abcdef");
  azure.signInPageForBadPat = true;
  const page = await cluster.waitFor(await submit({ patRef: "azwrong" }, "azwrong"), terminal);
  expect(page.error?.code).toBe("integration_unauthorized");
  expect(page.error?.message).toContain("(203)");
}, 60_000);
