// The integrations' HTTP client bounds each try: a connection that never answers is given up
// after callTimeoutMs like a dropped one (a poll is tried again; a trigger is not, its error says
// it may have gone through), instead of stalling the job until its own timeout.

import { afterAll, beforeAll, beforeEach, expect, test } from "bun:test";
import { ApiClient } from "../../../src/plugins/builtin/api-client.ts";
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
const api = () => new ApiClient(createTestContext(), { callTimeoutMs: 300, minBackoffMs: 1, maxBackoffMs: 2, holds: new RateHolds() });

test("ApiClient.request() gives up a poll whose answer hangs past callTimeoutMs and tries again", async () => {
  replies = [{ status: 200, body: { ok: "late" }, delayMs: 5000 }];
  const started = Date.now();
  const answer = await api().request<{ ok: unknown }>({ integration: "GitHub", call: "read run", method: "GET", url: `${server.url}/x`, idempotent: true });
  expect(answer.body.ok).toBe(true);
  expect(server.requests).toHaveLength(2);
  expect(Date.now() - started).toBeLessThan(3000);
});

test("ApiClient.request() does not send a trigger again after its answer hung; the error says it may have gone through", async () => {
  replies = [{ status: 200, body: { id: 1 }, delayMs: 5000 }];
  const error = await api().request({ integration: "GitHub", call: "dispatch workflow", method: "POST", url: `${server.url}/dispatches`, body: {}, idempotent: false }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EdgeError);
  expect((error as EdgeError).message).toMatch(/no answer within 300 ms; it may have gone through, so it is not sent again/);
  expect(server.requests).toHaveLength(1);
});
