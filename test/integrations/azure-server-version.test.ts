// azure-devops-pipeline on Azure DevOps Server: Server 2022 supports the REST API up to 7.0 and
// Server 2020 up to 6.0 (the Runs API there only as 6.0-preview.1); both refuse 7.1 with 400
// VssVersionOutOfRangeException. The `apiVersion` input picks the version; without it the plugin
// asks in 7.1 and, refused as out of range, once more in the version the server names.
// Drives the plugin's action against the fake Azure DevOps API (fakes/azure-devops.ts).

import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import azure from "../../src/plugins/builtin/azure-devops-pipeline/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { FakeAzureDevops } from "./fakes/azure-devops.ts";

const az = new FakeAzureDevops();
beforeAll(async () => {
  await az.start();
});
afterEach(() => {
  az.serverVersion = "7.1";
});
afterAll(() => az.stop());
const input = (extra: Record<string, unknown> = {}) => ({ baseUrl: az.url, organization: "DefaultCollection", project: "Platform", pipelineId: 12, patRef: "az", pollMs: 100, ...extra });
const run = (extra: Record<string, unknown> = {}, signal?: AbortSignal) =>
  (azure.actions.run?.(input(extra), createTestContext({ secrets: { az: az.pat }, ...(signal === undefined ? {} : { signal }) })) as Promise<unknown>).then((r) => r, (e: unknown) => e);
const versionsSince = (from: number) => az.requests.slice(from).map((r) => `${r.method} ${r.path.replace(/^.*\/_apis\//, "")} ${r.query.get("api-version")}`);
const posts = (from: number) => az.requests.slice(from).filter((r) => r.method === "POST").length;

test("azure-devops-pipeline run on Server 2022 (REST up to 7.0), no apiVersion: refused 7.1, asked once more in 7.0, followed to success", async () => {
  az.serverVersion = "7.0";
  const from = az.requests.length;
  const result = await run();
  expect(result).toMatchObject({ result: "succeeded" });
  expect(posts(from)).toBe(2);
  expect(versionsSince(from).slice(1).every((line) => line.endsWith(" 7.0"))).toBe(true);
});

test("azure-devops-pipeline run on Server 2020 with apiVersion 6.0: the Runs API as 6.0-preview.1, the Builds API as 6.0; a cancel reaches the server", async () => {
  az.serverVersion = "6.0";
  az.pollsToComplete = 1000;
  const from = az.requests.length;
  const controller = new AbortController();
  setTimeout(() => controller.abort("cancelled by the user"), 400);
  const result = await run({ apiVersion: "6.0" }, controller.signal);
  az.pollsToComplete = 2;
  expect(result).toMatchObject({ code: "job_cancelled" });
  expect(az.runs.at(-1)?.cancelled).toBe(true);
  const lines = versionsSince(from);
  expect(lines[0]).toBe("POST pipelines/12/runs 6.0-preview.1");
  expect(lines.filter((l) => l.startsWith("PATCH build/builds/"))).toEqual([expect.stringMatching(/ 6\.0$/)]);
  expect(lines.every((l) => (l.includes(" pipelines/") ? l.endsWith(" 6.0-preview.1") : l.endsWith(" 6.0")))).toBe(true);
});

test("azure-devops-pipeline run on Server 2020, no apiVersion: falls back to the 6.0 the server names", async () => {
  az.serverVersion = "6.0";
  const from = az.requests.length;
  expect(await run()).toMatchObject({ result: "succeeded" });
  expect(posts(from)).toBe(2);
});

test("azure-devops-pipeline run with apiVersion 7.1 on Server 2022: no fallback, fails with the server's refusal, one request", async () => {
  az.serverVersion = "7.0";
  const from = az.requests.length;
  const result = await run({ apiVersion: "7.1" });
  expect(String((result as Error).message)).toContain("out of range for this server");
  expect(posts(from)).toBe(1);
});

test("azure-devops-pipeline run, no apiVersion: another 400 (an undeclared parameter) fails naming it, not sent again", async () => {
  const from = az.requests.length;
  const result = await run({ templateParameters: { region: "eu" } });
  expect(result).toMatchObject({ code: "integration_failed" });
  expect(String((result as Error).message)).toContain("Unexpected parameter 'region'");
  expect(posts(from)).toBe(1);
});
