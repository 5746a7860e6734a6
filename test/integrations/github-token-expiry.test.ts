// github-workflow with a GitHub App: an installation token lives an hour (the fake, like GitHub,
// answers 401 "Bad credentials" once it expired). A sync job following a run across the token's
// expiry, or started with a cached token near its end, gets a new token instead of failing a
// healthy run; so does its cancel; a token refused mid-run (401) is renewed once.
// Drives the plugin's action against the fake GitHub API (fakes/github.ts); the clock is bun's.

import { afterAll, afterEach, beforeAll, expect, setSystemTime, test } from "bun:test";
import github from "../../src/plugins/builtin/github-workflow/plugin.ts";
import { createTestContext } from "../../src/plugins/test-context.ts";
import { FakeGithub } from "./fakes/github.ts";

const gh = new FakeGithub();
beforeAll(async () => {
  await gh.start();
});
afterEach(() => {
  setSystemTime();
  gh.pollsToComplete = 2;
});
afterAll(() => gh.stop());
const input = (repo: string) => ({ baseUrl: gh.url, owner: "acme", repo, workflow: "deploy.yml", ref: "main", app: { appId: gh.appId, privateKeyRef: "ghkey" }, pollMs: 100 });
const run = (repo: string, signal?: AbortSignal) =>
  (github.actions.dispatch?.(input(repo), createTestContext({ secrets: { ghkey: gh.privateKeyPem }, ...(signal === undefined ? {} : { signal }) })) as Promise<unknown>).then((r) => r, (e: unknown) => e);

test("dispatch: a run that outlasts the installation token (61 min) is followed to its success with a new token", async () => {
  gh.pollsToComplete = 8;
  const t0 = Date.now();
  setSystemTime(new Date(t0));
  const job = run("long");
  // A few polls in, the clock passes the token's hour.
  setTimeout(() => setSystemTime(new Date(t0 + 61 * 60_000)), 300);
  const result = await job;
  expect(String((result as Error).message ?? "")).not.toContain("credentials were refused");
  expect(result).toMatchObject({ conclusion: "success" });
}, 30_000);

test("dispatch: a job started with a cached token that has 6 min left follows a 7-minute run to its success", async () => {
  gh.pollsToComplete = 1;
  const t0 = Date.now();
  setSystemTime(new Date(t0));
  expect(await run("cached")).toMatchObject({ conclusion: "success" });
  // 54 min later the next job starts: the cached token has 6 min left, so it is reused at first.
  setSystemTime(new Date(t0 + 54 * 60_000));
  gh.pollsToComplete = 8;
  const job = run("cached");
  setTimeout(() => setSystemTime(new Date(t0 + 61 * 60_000)), 300);
  const result = await job;
  expect(String((result as Error).message ?? "")).not.toContain("credentials were refused");
  expect(result).toMatchObject({ conclusion: "success" });
}, 30_000);

test("dispatch: cancelled after the token expired, the run is still cancelled on GitHub", async () => {
  gh.pollsToComplete = 1000;
  const t0 = Date.now();
  setSystemTime(new Date(t0));
  const controller = new AbortController();
  const job = run("cancel", controller.signal);
  setTimeout(() => setSystemTime(new Date(t0 + 61 * 60_000)), 200);
  setTimeout(() => controller.abort("cancelled by the user"), 400);
  const result = await job;
  expect(result).toMatchObject({ code: "job_cancelled" });
  expect(String((result as Error).message)).toContain("was cancelled");
  expect(gh.runs.at(-1)?.cancelled).toBe(true);
}, 30_000);

test("dispatch: an installation token revoked mid-run (401) is dropped, renewed and the call tried once more", async () => {
  gh.pollsToComplete = 6;
  const job = run("revoked");
  // Revoke every installation token handed out so far, a few polls in.
  setTimeout(() => {
    for (const token of gh.tokens) if (token.startsWith("ghs_")) gh.tokens.delete(token);
  }, 250);
  expect(await job).toMatchObject({ conclusion: "success" });
}, 30_000);
