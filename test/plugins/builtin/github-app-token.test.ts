// The GitHub App installation token cache: a token whose expires_at lies years out is kept at most
// an hour (GitHub's own lifetime for one), and a token GitHub refuses is renewed once within the
// job and, refused again, forgotten, so the next job asks for a new one instead of failing with
// 401 for the life of the worker. Against the fake
// GitHub of test/integrations/fakes/.

import { afterAll, beforeAll, expect, test } from "bun:test";
import github from "../../../src/plugins/builtin/github-workflow/plugin.ts";
import { installationToken, TOKEN_LIFETIME_MAX_MS } from "../../../src/plugins/builtin/github-workflow/app-auth.ts";
import { ApiClient } from "../../../src/plugins/builtin/api-client.ts";
import { EdgeError } from "../../../src/errors.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { FakeGithub } from "../../integrations/fakes/github.ts";

const gh = new FakeGithub();
beforeAll(async () => {
  await gh.start();
  gh.pollsToComplete = 1;
  // Ten years out.
  gh.tokenExpiresInMs = 10 * 365 * 24 * 3_600_000;
});
afterAll(() => gh.stop());
const tokenCalls = () => gh.count("POST", /\/access_tokens$/);

test("installationToken() keeps a token whose expires_at is years out at most an hour (less the 5-minute refresh margin)", async () => {
  let now = Date.now();
  const api = new ApiClient(createTestContext());
  const auth = { baseUrl: gh.url, appId: gh.appId, privateKeyPem: gh.privateKeyPem, owner: "acme", repo: "cache-bound" };
  const first = await installationToken(api, auth, () => undefined, () => now);
  const calls = tokenCalls();
  now += 30 * 60_000;
  expect((await installationToken(api, auth, () => undefined, () => now)).token).toBe(first.token);
  expect(tokenCalls()).toBe(calls);
  now += TOKEN_LIFETIME_MAX_MS - 30 * 60_000 - 4 * 60_000;
  const second = await installationToken(api, auth, () => undefined, () => now);
  expect(tokenCalls()).toBe(calls + 1);
  expect(second.token).not.toBe(first.token);
});

test("github-workflow: an App token GitHub refuses (revoked) is dropped and renewed once within the job; refused again, the job fails and the next job gets a new one", async () => {
  const input = { baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", app: { appId: gh.appId, privateKeyRef: "ghkey" }, pollMs: 100 };
  const ctx = () => createTestContext({ secrets: { ghkey: gh.privateKeyPem } });
  expect(await github.actions.dispatch?.(input, ctx())).toMatchObject({ conclusion: "success" });
  // Revoke every token handed out so far (the cached one among them): the job renews it once.
  for (const token of [...gh.tokens]) if (token.startsWith("ghs_")) gh.tokens.delete(token);
  let calls = tokenCalls();
  expect(await github.actions.dispatch?.(input, ctx())).toMatchObject({ conclusion: "success" });
  expect(tokenCalls()).toBe(calls + 1);
  // GitHub refuses the dispatch with the renewed token too: the job fails, the token is forgotten.
  gh.fault({ times: 2, match: (r) => r.path.endsWith("/dispatches"), reply: () => ({ status: 401, body: { message: "Bad credentials" } }) });
  const refused = await (github.actions.dispatch?.(input, ctx()) as Promise<unknown>).then(() => undefined, (e: unknown) => e);
  expect(refused).toBeInstanceOf(EdgeError);
  expect((refused as EdgeError).code).toBe("integration_unauthorized");
  calls = tokenCalls();
  expect(await github.actions.dispatch?.(input, ctx())).toMatchObject({ conclusion: "success" });
  expect(tokenCalls()).toBe(calls + 1);
});

for (const bad of [-5, 1.5, 1e300, "777"]) {
  test(`installationToken() refuses an installation id of ${JSON.stringify(bad)} naming it, before any call with it`, async () => {
    gh.fault({ times: 1, match: (r) => r.path.endsWith("/installation"), reply: () => ({ status: 200, body: { id: bad, app_id: Number(gh.appId) } }) });
    const before = gh.requests.length;
    const api = new ApiClient(createTestContext());
    const auth = { baseUrl: gh.url, appId: gh.appId, privateKeyPem: gh.privateKeyPem, owner: "acme", repo: `bad-id-${String(bad).replace(/\W/g, "")}` };
    const error = await installationToken(api, auth, () => undefined).then(() => undefined, (e: unknown) => e);
    expect(gh.requests.slice(before).filter((r) => r.path.includes("/access_tokens"))).toEqual([]);
    expect(error).toBeInstanceOf(EdgeError);
    expect((error as EdgeError).message).toMatch(/app installation \(of acme\/bad-id-\w*\) id is not a positive integer/);
  });
}
