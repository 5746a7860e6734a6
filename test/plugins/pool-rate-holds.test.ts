// The plugin pool shares the built-in integrations' rate-limit holds between its worker threads
// (rate-holds.ts): a job in one thread that learns the API's budget for a token is spent holds
// the next call of a job in another thread with the same token until the reset.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { FakeGithub } from "../integrations/fakes/github.ts";
import { eventually } from "../helpers/harness.ts";
import { request, testPool } from "./support/helpers.ts";

const gh = new FakeGithub();
beforeAll(() => gh.start());
afterAll(() => gh.stop());

const auths = {
  // One token for both jobs.
  "the same token": { input: { tokenRef: "gh" }, secrets: () => ({ gh: "ghp_fake_personal_token_value" }) },
  // Each worker thread gets an installation token of its own; both draw on the installation's limit.
  "the same GitHub App installation": { input: { app: { appId: gh.appId, privateKeyRef: "key" } }, secrets: () => ({ key: gh.privateKeyPem }) },
};

test.each(Object.keys(auths))("PluginPool.run(): a github-workflow job in another worker thread waits for the reset a job with %s learned", async (auth) => {
  const { input: credentials, secrets } = auths[auth as keyof typeof auths];
  gh.pollsToComplete = 10_000;
  const { pool } = testPool();
  const input = { baseUrl: gh.url, owner: "acme", repo: "app", workflow: "deploy.yml", ref: "main", pollMs: 100, ...credentials };
  const job = (jobId: string, signal: AbortSignal) => request("github-workflow", "dispatch", { jobId, input, secrets: secrets(), declaredSecrets: Object.keys(secrets()), signal, timeoutMs: 60_000 });
  const runsBefore = gh.runs.length;
  const stopA = new AbortController();
  const stopB = new AbortController();
  let resetMs = 0;
  // The first job's first poll of its run is answered with GitHub's spent primary limit, reset in 3-4 s.
  gh.fault({
    times: 1,
    match: (r) => r.method === "GET" && /\/actions\/runs\/\d+$/.test(r.path),
    reply: () => {
      const reset = Math.ceil(Date.now() / 1000) + 3;
      resetMs = reset * 1000;
      return { status: 403, headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) }, body: { message: "API rate limit exceeded for user ID 1." } };
    },
  });
  const a = job("a", stopA.signal);
  const b = job("b", stopB.signal);
  try {
    const runA = pool.run(a);
    await eventually(() => (a.logs.some((l) => l.msg.includes("rate limited (403)")) ? true : undefined), 20_000, "job a to be rate limited");
    const runB = pool.run(b);
    await eventually(() => (b.logs.some((l) => l.msg.includes("for the API's rate limit to reset")) ? true : undefined), 20_000, "job b to wait for the reset");
    expect(pool.workers()).toHaveLength(2);
    expect(gh.runs).toHaveLength(runsBefore + 1);
    await eventually(() => (gh.runs.length === runsBefore + 2 ? true : undefined), 20_000, "job b's dispatch");
    expect(Date.parse(gh.runs.at(-1)?.createdAt ?? "")).toBeGreaterThanOrEqual(resetMs);
    stopA.abort();
    stopB.abort();
    expect((await runA).status).toBe("cancelled");
    expect((await runB).status).toBe("cancelled");
  } finally {
    stopA.abort();
    stopB.abort();
    await pool.close();
  }
}, 40_000);
