// Job callbacks on the reference controller: the job-scoped token opens only its own job's
// endpoints; steps and log lines land in the job's events; a pipeline's result is kept on the job;
// approve/reject are recorded once; the runner holding the lease resolves the callback URL/token.

import { afterEach, expect, test } from "bun:test";
import { forEachStore } from "../helpers/stores.ts";
import { openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

function call(path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return h.controller.app.request(path, body === undefined ? { headers } : { method: "POST", headers, body: JSON.stringify(body) });
}

forEachStore("job callbacks", (store) => {
  test("CallbackTokens: one token per job, checked in constant time, stable across restarts", async () => {
    h = await openController(store);
    const tokens = h.controller.callbackTokens;
    expect(tokens.verify("a", tokens.token("a"))).toBe(true);
    expect(tokens.verify("b", tokens.token("a"))).toBe(false);
    expect(tokens.verify("a", undefined)).toBe(false);
    const token = tokens.token("a");
    h = await h.reopen();
    expect(h.controller.callbackTokens.token("a")).toBe(token);
  });

  test("callback endpoints take only the job's own token, and record steps, logs and the result", async () => {
    h = await openController(store);
    const tokens = h.controller.callbackTokens;
    const job = h.controller.submitJob({ plugin: "github-workflow" });
    const other = h.controller.submitJob({ plugin: "github-workflow" });
    await h.settle();
    const base = `/callback/v1/jobs/${job.id}`;
    expect((await call(`${base}/approval`, undefined)).status).toBe(401);
    expect((await call(`${base}/approval`, tokens.token(other.id))).status).toBe(401);
    expect((await call(`/callback/v1/jobs/nope/approval`, tokens.token("nope"))).status).toBe(401);
    expect(await (await call(`${base}/approval`, tokens.token(job.id))).json()).toEqual({ decision: "pending" });
    const token = tokens.token(job.id);
    await h.settle();
    expect((await call(`${base}/steps`, token, { id: "build", name: "Build", status: "running" })).status).toBe(200);
    expect((await call(`${base}/steps`, token, { id: "build", status: "exploded" })).status).toBe(400);
    expect((await call(`${base}/logs`, token, { lines: [{ level: "info", msg: "hello from the pipeline" }] })).status).toBe(200);
    expect((await call(`${base}/result`, token, { status: "succeeded", output: { url: "https://example.test/run/1" } })).status).toBe(200);
    const logs = await (await h.controller.app.request(`/api/v1/jobs/${job.id}/logs`, { headers: admin })).json() as { events: Array<Record<string, any>> };
    await h.settle();
    expect(logs.events.map((e) => e.type === "step" ? `${e.step.id}:${e.step.status}` : e.lines[0].msg)).toEqual(["build:running", "hello from the pipeline", "callback-result:succeeded"]);
    const got = await (await h.controller.app.request(`/api/v1/jobs/${job.id}`, { headers: admin })).json() as Record<string, any>;
    await h.settle();
    expect(got.callbackResult).toMatchObject({ status: "succeeded", output: { url: "https://example.test/run/1" } });
    const untouched = await (await h.controller.app.request(`/api/v1/jobs/${other.id}`, { headers: admin })).json() as Record<string, any>;
    await h.settle();
    expect(untouched.callbackResult).toBeUndefined();
  });

  test("POST /api/v1/jobs/:id/approve records the decision once; the callback reads it", async () => {
    h = await openController(store);
    const tokens = h.controller.callbackTokens;
    const job = h.controller.submitJob({ plugin: "manual" });
    await h.settle();
    const approve = await h.controller.app.request(`/api/v1/jobs/${job.id}/approve`, { method: "POST", headers: admin, body: JSON.stringify({ comment: "ok" }) });
    await h.settle();
    expect(approve.status).toBe(200);
    expect(((await approve.json()) as Record<string, any>).approval).toMatchObject({ decision: "approved", comment: "ok" });
    expect((await h.controller.app.request(`/api/v1/jobs/${job.id}/reject`, { method: "POST", headers: admin })).status).toBe(409);
    expect(await (await call(`/callback/v1/jobs/${job.id}/approval`, tokens.token(job.id))).json()).toMatchObject({ decision: "approved", comment: "ok" });
    expect((await h.controller.app.request(`/api/v1/jobs/${job.id}/approve`, { method: "POST", headers: { "content-type": "application/json" } })).status).toBe(401);
  });
});
