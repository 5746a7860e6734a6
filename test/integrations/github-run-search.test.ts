// github-workflow finds the run it dispatched (a server without return_run_details) in the run
// list by its correlation id. The `created` filter it sends must be in GitHub's documented date
// syntax (the fake, like some servers, matches nothing for a timestamp with milliseconds), and a
// listed run created before this dispatch is not taken for it (a meshStack run's id is the same
// in every attempt). Drives the plugin's action against the fake GitHub API (fakes/github.ts).

import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import github from "../../src/plugins/builtin/github-workflow/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { FakeGithub } from "./fakes/github.ts";

const gh = new FakeGithub();
beforeAll(async () => {
  await gh.start();
  gh.supportsRunDetails = false;
  gh.pollsToComplete = 1;
});
afterAll(() => gh.stop());
afterEach(() => {
  gh.listLag = 0;
});
const dispatch = (extra: Record<string, unknown> = {}) =>
  (github.actions.dispatch?.({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", pollMs: 100, ...extra }, createTestContext({ secrets: { gh: "ghp_fake_personal_token_value" } })) as Promise<unknown>).then((r) => r, (e: unknown) => e);

test("dispatch without return_run_details: the run is found with a created filter in GitHub's date syntax", async () => {
  gh.listLag = 1;
  const result = await dispatch({ findRunTimeoutMs: 5000 });
  expect(result).toMatchObject({ conclusion: "success", runId: gh.runs.at(-1)?.id });
  const created = gh.requests.filter((r) => r.method === "GET" && r.path.endsWith("/runs")).map((r) => r.query.get("created"));
  expect(created.every((c) => /^>=\d{4}-\d{2}-\d{2}$/.test(c ?? ""))).toBe(true);
}, 30_000);

test("dispatch without return_run_details: a listed run with the correlation id but created before the dispatch is not taken", async () => {
  const old = new Date(Date.now() - 10 * 60_000).toISOString();
  // The list shows the new run as if it had been created ten minutes ago (an earlier attempt's).
  let showOld = true;
  gh.fault({ times: 1000, match: (r) => showOld && r.method === "GET" && r.path.endsWith("/runs"), reply: () => {
    const run = gh.runs.at(-1);
    return { status: 200, body: { total_count: 1, workflow_runs: [{ id: run?.id, name: "Deploy", display_title: `Deploy ${run?.inputs.edge_run_id}`, status: "queued", conclusion: null, created_at: old }] } };
  } });
  const result = await dispatch({ findRunTimeoutMs: 1000 });
  showOld = false;
  expect(String((result as Error).message)).toContain("shows the correlation id");
}, 30_000);
