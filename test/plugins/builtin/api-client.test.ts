// The pipeline integrations' HTTP client against a loopback fake: rate limits as GitHub, GitLab
// and Azure DevOps document them are waited out as long as they say (the job's cancel ends the
// wait), the client paces itself after an answer that says the budget is spent, a permission 403
// is still a refusal, and no error quotes a credential or a query from a URL.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { ApiClient, LONGEST_WAIT_MS } from "../../../src/plugins/builtin/api-client.ts";
import { EdgeError } from "../../../src/errors.ts";
import { createTestContext } from "../../../src/plugins/test-context.ts";
import { RateHolds } from "../../../src/plugins/rate-holds.ts";
import { FakeServer, type FakeReply } from "../../fakes/http-fake.ts";

const server = new FakeServer();
let replies: FakeReply[] = [];
beforeAll(async () => {
  server.any(() => replies.shift() ?? { status: 200, body: { ok: true } });
  await server.start();
});
afterAll(() => server.stop());
beforeEach(() => {
  replies = [];
  server.requests.length = 0;
});

/**
 * A client whose sleeps are recorded (and take no time); `onSleep` may abort the job. Each has
 * holds of its own unless `shared` says otherwise, so one test's rate limit does not pace the next.
 */
function client(onSleep: (ms: number) => void = () => undefined, shared?: { holds?: RateHolds; token?: string }) {
  const controller = new AbortController();
  const ctx = createTestContext({ signal: controller.signal });
  const slept: number[] = [];
  const api = new ApiClient(ctx, { sleep: async (ms) => { slept.push(ms); onSleep(ms); }, minBackoffMs: 1, maxBackoffMs: 2, ...(shared === undefined ? { holds: new RateHolds() } : shared.holds === undefined ? {} : { holds: shared.holds }) });
  const headers = shared?.token === undefined ? {} : { authorization: `Bearer ${shared.token}` };
  const get = (path = "/x") => api.request({ integration: "GitHub", call: "read run", method: "GET", url: `${server.url}${path}`, headers, idempotent: true });
  return { api, ctx, slept, get, controller };
}
const seconds = (ms: number) => Math.ceil(ms / 1000);
const epoch = (fromNowS: number) => String(Math.floor(Date.now() / 1000) + fromNowS);

test("GitHub's secondary rate limit as a 403 with retry-after (budget left) is waited out, not taken for bad credentials", async () => {
  replies = [{ status: 403, headers: { "retry-after": "30", "x-ratelimit-remaining": "4000" }, body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." } }];
  const { get, slept } = client();
  expect((await get()).status).toBe(200);
  expect(slept.map(seconds)).toEqual([30]);
  expect(server.requests).toHaveLength(2);
});

test("GitHub's secondary rate limit named only in the 403's message waits at least a minute, longer each time", async () => {
  const limited: FakeReply = { status: 403, body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits" } };
  replies = [limited, limited];
  const { get, slept } = client();
  expect((await get()).status).toBe(200);
  expect(slept.map(seconds)).toEqual([60, 120]);
});

test("a permission 403 (no rate-limit header or message) is refused at once, without retrying", async () => {
  replies = [{ status: 403, headers: { "x-ratelimit-remaining": "4999" }, body: { message: "Resource not accessible by integration" } }];
  const { get, slept } = client();
  const error = await get().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).code).toBe("integration_unauthorized");
  expect((error as EdgeError).message).toContain("Resource not accessible by integration");
  expect(slept).toEqual([]);
});

test("a primary limit reset an hour away is waited for as told, and the job's cancel ends the wait", async () => {
  replies = [{ status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epoch(3600) }, body: { message: "API rate limit exceeded for installation ID 777." } }];
  const { get, slept, controller } = client(() => controller.abort());
  const error = (await get().catch((e: unknown) => e)) as EdgeError;
  expect(slept).toHaveLength(1);
  expect(Math.abs((slept[0] ?? 0) - 3_600_000)).toBeLessThan(3000);
  expect(error.code).toBe("job_cancelled");
  expect(error.message).toContain("rate limit");
  expect(server.requests).toHaveLength(1);
});

test("a Retry-After past the longest documented window (a day) fails the call, naming the wait", async () => {
  replies = [{ status: 429, headers: { "retry-after": "86400" }, body: "Retry later\n" }];
  const { get, slept } = client();
  const error = (await get().catch((e: unknown) => e)) as EdgeError;
  expect(error.code).toBe("integration_failed");
  expect(error.message).toContain("rate limited (answer 429) for 86400 s more");
  expect(slept).toEqual([]);
  expect(86_400_000).toBeGreaterThan(LONGEST_WAIT_MS);
});

test("GitLab's 429 with RateLimit-Reset and no Retry-After waits until the reset", async () => {
  replies = [{ status: 429, headers: { "ratelimit-limit": "600", "ratelimit-remaining": "0", "ratelimit-reset": epoch(20) }, body: "Retry later\n" }];
  const { get, slept } = client();
  expect((await get()).status).toBe(200);
  expect(slept.map(seconds)).toEqual([20]);
});

test("never hammers: after a success with x-ratelimit-remaining 0 the next call waits for the reset", async () => {
  replies = [{ status: 200, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epoch(40) }, body: { ok: 1 } }];
  const { get, slept, ctx } = client();
  await get();
  expect(slept).toEqual([]);
  await get();
  expect(slept.map(seconds)).toEqual([40]);
  expect(server.requests).toHaveLength(2);
  expect(ctx.lines.map((l) => l.msg).join("\n")).toContain("waiting 40 s for the API's rate limit to reset");
});

test("never hammers: Azure DevOps' Retry-After on a delayed success holds the next call", async () => {
  replies = [{ status: 200, headers: { "retry-after": "7", "x-ratelimit-resource": "ATCPU", "x-ratelimit-delay": "2.5" }, body: { ok: 1 } }];
  const { get, slept } = client();
  await get();
  await get();
  expect(slept.map(seconds)).toEqual([7]);
});

test("a cancel while the client holds for a rate limit sends nothing more", async () => {
  replies = [{ status: 200, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epoch(600) }, body: {} }];
  const { get, controller, slept } = client(() => controller.abort());
  await get();
  const error = (await get().catch((e: unknown) => e)) as EdgeError;
  expect(error.code).toBe("job_cancelled");
  expect(slept).toHaveLength(1);
  expect(server.requests).toHaveLength(1);
});

test("a fetch error that quotes the URL (Node: credentials in the URL) names neither the credentials nor the query", async () => {
  const real = globalThis.fetch;
  const url = "https://bot:glpat-SECRET-in-userinfo@gitlab.test/api/v4/projects/1/pipelines?private_token=glpat-SECRET-in-query";
  globalThis.fetch = (async (input: string | URL | Request) => {
    throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${String(input)}`);
  }) as unknown as typeof fetch;
  try {
    const { api } = client();
    const error = (await api.request({ integration: "GitLab", call: "list pipelines", method: "GET", url, idempotent: false }).catch((e: unknown) => e)) as EdgeError;
    expect(error.code).toBe("connection_failed");
    expect(error.message).toContain("https://gitlab.test/api/v4/projects/1/pipelines");
    expect(error.message).not.toContain("SECRET");
  } finally {
    globalThis.fetch = real;
  }
});

test("an API message that quotes a URL with a token in it is cut to origin and path", async () => {
  replies = [{ status: 400, body: { message: "Invalid callback https://hook.test/cb?token=SECRET-tok-123 given" } }];
  const { get } = client();
  const error = (await get().catch((e: unknown) => e)) as EdgeError;
  expect(error.message).toContain("Invalid callback https://hook.test/cb given");
  expect(error.message).not.toContain("SECRET");
});

test("ApiClient paces every job with the same token: after one sees x-ratelimit-remaining 0, another's next call waits for the reset; another token's does not", async () => {
  // The process's own holds (no `holds` option), as two jobs in one worker thread have them.
  const token = `ghs_shared_${Math.random().toString(36).slice(2)}`;
  const first = client(() => undefined, { token });
  const second = client(() => undefined, { token });
  const other = client(() => undefined, { token: `${token}_other` });
  replies = [{ status: 200, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epoch(30) }, body: { ok: 1 } }];
  await first.get();
  await other.get();
  expect(other.slept).toEqual([]);
  await second.get();
  expect(second.slept.map(seconds)).toEqual([30]);
  expect(second.ctx.lines.map((l) => l.msg).join("\n")).toContain("waiting 30 s for the API's rate limit to reset");
  // A 429's Retry-After is shared too, and a cancel ends only the waiting job's own wait.
  const limitedToken = `${token}_429`;
  replies = [{ status: 429, headers: { "retry-after": "20" }, body: "Retry later\n" }];
  const learner = client(() => undefined, { token: limitedToken });
  await learner.get();
  const cancelled = client(() => cancelled.controller.abort(), { token: limitedToken });
  const error = (await cancelled.get().catch((e: unknown) => e)) as EdgeError;
  expect(error.code).toBe("job_cancelled");
  expect(cancelled.slept.map(seconds)).toEqual([20]);
  expect(learner.controller.signal.aborted).toBe(false);
});

test("ApiClient: calls with different credentials that name one budget (a GitHub App installation) share its hold", async () => {
  const holds = new RateHolds();
  replies = [{ status: 200, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": epoch(25) }, body: {} }];
  const call = (c: ReturnType<typeof client>, token: string) => c.api.request({ integration: "GitHub", call: "read run", method: "GET", url: `${server.url}/x`, headers: { authorization: `Bearer ${token}` }, budget: "github-app 1 installation 7", idempotent: true });
  await call(client(() => undefined, { holds }), "ghs_thread_one");
  const second = client(() => undefined, { holds });
  await call(second, "ghs_thread_two");
  expect(second.slept.map(seconds)).toEqual([25]);
});
