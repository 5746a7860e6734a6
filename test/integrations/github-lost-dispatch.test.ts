// github-workflow: a dispatch whose answer was lost (GitHub acted, the answer died in a 502) must
// not start a second run of the user's workflow. It is sent again only when the run list, given
// time to catch up with the dispatch, surely shows no run carrying the correlation id; when that
// cannot be known (no correlation id, the list call failing) the job fails saying the dispatch may
// have gone through. Drives the plugin's action against the fake GitHub API (fakes/github.ts).

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import github from "../../src/plugins/builtin/github-workflow/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { FakeGithub } from "./fakes/github.ts";

const gh = new FakeGithub();
beforeAll(async () => {
  await gh.start();
});
afterAll(() => gh.stop());
beforeEach(() => {
  gh.pollsToComplete = 1;
  gh.listLag = 0;
  gh.supportsRunDetails = true;
});
const input = (extra: Record<string, unknown> = {}) => ({ baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", tokenRef: "gh", pollMs: 100, ...extra });
const ctx = () => createTestContext({ secrets: { gh: "ghp_fake_personal_token_value" } });
/** GitHub carries the dispatch out, but its answer is lost in a 502. */
const lostAnswer = () => gh.fault({ times: 1, afterHandling: true, match: (r) => r.path.endsWith("/dispatches"), reply: () => ({ status: 502, body: "<html>502 Bad Gateway</html>" }) });
const dispatch = (extra: Record<string, unknown> = {}) => (github.actions.dispatch?.(input(extra), ctx()) as Promise<Record<string, unknown>>).then((r) => r, (e: unknown) => e as Error);

test("dispatch with runIdInput null: a lost answer is not sent again; the error says the dispatch may have gone through", async () => {
  const before = gh.runs.length;
  lostAnswer();
  const result = await dispatch({ runIdInput: null });
  expect(gh.runs.length - before).toBe(1);
  expect(String((result as Error).message)).toContain("may have gone through");
});

test("dispatch: the run list lags the dispatch (as GitHub's does): the lost dispatch is found, not sent again, and followed", async () => {
  gh.listLag = 2;
  const before = gh.runs.length;
  lostAnswer();
  const result = await dispatch();
  expect(gh.runs.length - before).toBe(1);
  expect(result).toMatchObject({ conclusion: "success", runId: gh.runs.at(-1)?.id });
}, 30_000);

test("dispatch: the outage that lost the answer also fails the run list: not sent again (an unknown is not a 'no')", async () => {
  const before = gh.runs.length;
  lostAnswer();
  // The check's list call meets the same outage through all the client's tries, then GitHub recovers.
  gh.fault({ times: 6, match: (r) => r.method === "GET" && r.path.endsWith("/runs"), reply: () => ({ status: 502, body: { message: "Server Error" } }) });
  const result = await dispatch();
  expect(gh.runs.length - before).toBe(1);
  expect(String((result as Error).message)).toMatch(/may have gone through and cannot be checked/);
}, 90_000);

test("dispatch: a 502 before GitHub acted is sent again once the list had its time to show a run, and one run is followed", async () => {
  const before = gh.runs.length;
  gh.fault({ times: 1, match: (r) => r.path.endsWith("/dispatches"), reply: () => ({ status: 502, body: "<html>502 Bad Gateway</html>" }) });
  const started = Date.now();
  const result = await dispatch({ findRunTimeoutMs: 1000 });
  expect(result).toMatchObject({ conclusion: "success" });
  expect(gh.runs.length - before).toBe(1);
  // It waited out the list's lag (findRunTimeoutMs bounds it) before sending again.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
}, 30_000);
