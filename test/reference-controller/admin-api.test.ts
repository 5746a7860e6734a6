// The admin API driven in memory with app.request(): auth, validation, jobs, runners, status.
import { afterEach, expect, test } from "bun:test";
import { MAX_LOG_PAGE_BYTES } from "../../src/reference-controller/store-file-bounds.ts";
import { forEachStore } from "../helpers/stores.ts";
import { FakeRunner, openController, type Harness } from "./helpers.ts";

let h: Harness;
afterEach(async () => {
  await h.controller.close();
});

const auth = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await h.controller.app.request(`/api/v1${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

forEachStore("admin API", (store) => {
  test("admin API refuses a missing or wrong admin token with 401", async () => {
    h = await openController(store);
    expect((await call("GET", "/jobs", undefined, {})).status).toBe(401);
    expect((await call("GET", "/runners", undefined, { authorization: "Bearer nope" })).status).toBe(401);
    const health = await call("GET", "/health", undefined, {});
    await h.settle();
    expect(health).toEqual({ status: 200, body: { status: "ok", version: expect.any(String) } });
    expect((await call("GET", "/health")).body.counters).toMatchObject({ protocolErrors: 0 });
    expect((await call("GET", "/health")).body.store.kind).toBe(store.kind);
    // Only replicas on PostgreSQL count the sessions of them all (here: none).
    expect((await call("GET", "/health")).body.sessionsAllReplicas).toBe(store.kind === "postgres" ? 0 : undefined);
  });

  test("POST /api/v1/jobs validates the body with clear 400 errors", async () => {
    h = await openController(store);
    const cases: Array<[unknown, string]> = [
      ["{nope", "body is not valid JSON"],
      ["", "body is empty"],
      [[1], "body must be a JSON object"],
      [{}, '"plugin" is required'],
      [{ plugin: "" }, '"plugin" must be a non-empty string'],
      [{ plugin: "p", group: "bad group!" }, '"group" must be 1–128 characters'],
      [{ plugin: "p", timeoutMs: -5 }, '"timeoutMs" must be an integer'],
      [{ plugin: "p", maxAttempts: 1.5 }, '"maxAttempts" must be an integer'],
      [{ plugin: "p", plugn: "typo" }, 'unknown field "plugn"'],
    ];
    for (const [body, text] of cases) {
      const res = await call("POST", "/jobs", body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("input_invalid");
      expect(res.body.error.message).toContain(text);
      expect(res.body.error.message.startsWith("Cannot submit a job")).toBe(true);
    }
  });

  test("POST /api/v1/jobs creates a queued job with defaults; GET, list and filters find it", async () => {
    h = await openController(store);
    const created = await call("POST", "/jobs", { plugin: "http", input: { url: "x" }, timeoutMs: 5000 });
    await h.settle();
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String), group: "default", plugin: "http", action: "default", input: { url: "x" },
      status: "queued", attempt: 0, maxAttempts: 3, submittedAt: h.clock.t, timeoutMs: 5000,
    });
    await call("POST", "/jobs", { plugin: "shell", group: "gpu", maxAttempts: 1 });
    await h.settle();
    expect((await call("GET", `/jobs/${created.body.id}`)).body.id).toBe(created.body.id);
    expect((await call("GET", "/jobs/nope")).status).toBe(404);
    expect((await call("GET", "/jobs")).body.jobs.map((j: any) => j.plugin)).toEqual(["shell", "http"]);
    expect((await call("GET", "/jobs?group=gpu")).body.jobs).toHaveLength(1);
    expect((await call("GET", "/jobs?status=running")).body.jobs).toHaveLength(0);
    expect((await call("GET", "/jobs?limit=1")).body.jobs).toHaveLength(1);
    expect((await call("GET", "/jobs?status=bogus")).status).toBe(400);
    expect((await call("GET", "/jobs?limit=0")).status).toBe(400);
  });

  test("POST /api/v1/jobs/:id/cancel cancels, then answers 409 for a finished job", async () => {
    h = await openController(store);
    const { body } = await call("POST", "/jobs", { plugin: "p" });
    await h.settle();
    expect((await call("POST", `/jobs/${body.id}/cancel`)).body.status).toBe("cancelled");
    const again = await call("POST", `/jobs/${body.id}/cancel`);
    await h.settle();
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe(`Cannot cancel job "${body.id}": it is already cancelled`);
  });

  test("GET /api/v1/jobs/:id/logs ends a page before MAX_LOG_PAGE_BYTES of events; paging on from nextSeq gives every event once", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    const { body: job } = await call("POST", "/jobs", { plugin: "p" });
    await h.settle();
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    // 40 events of 1 MiB (16 lines of 64 KiB): 40 MiB in all, under the job's 64 MiB quota.
    const lines = Array.from({ length: 16 }, (_, i) => ({ ts: i, level: "info" as const, msg: String(i % 10).repeat(64 * 1024) }));
    const count = 40;
    for (let seq = 1; seq <= count; seq++) {
      r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines });
      await h.settle();
    }
    const pages: number[][] = [];
    for (let after = 0; ;) {
      const res = await h.controller.app.request(`/api/v1/jobs/${job.id}/logs?after=${after}&limit=10000`, { headers: auth });
      const text = await res.text();
      const page = JSON.parse(text) as { events: Array<{ seq: number }>; nextSeq: number };
      if (page.events.length === 0) {
        expect(page.nextSeq).toBe(after);
        break;
      }
      expect(text.length).toBeLessThanOrEqual(MAX_LOG_PAGE_BYTES);
      pages.push(page.events.map((e) => e.seq));
      after = page.nextSeq;
    }
    expect(pages.length).toBeGreaterThan(2);
    expect(pages.flat()).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // `limit` still applies under the byte cap.
    expect((await call("GET", `/jobs/${job.id}/logs?after=5&limit=2`)).body.events.map((e: any) => e.seq)).toEqual([6, 7]);
  }, 60_000);

  test("GET /api/v1/jobs/:id/logs pages events with after/nextSeq; /wait returns the terminal job", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "r1");
    const { body: job } = await call("POST", "/jobs", { plugin: "p" });
    await h.settle();
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    for (let seq = 1; seq <= 3; seq++) r.send({ type: "log", jobId: job.id, attempt: 1, seq, lines: [{ ts: seq, level: "info", msg: `line ${seq}` }] });
    await h.settle();
    const first = await call("GET", `/jobs/${job.id}/logs`);
    await h.settle();
    expect(first.body.events.map((e: any) => e.seq)).toEqual([1, 2, 3]);
    expect(first.body.nextSeq).toBe(3);
    expect((await call("GET", `/jobs/${job.id}/logs?after=2`)).body.events.map((e: any) => e.lines[0].msg)).toEqual(["line 3"]);
    expect((await call("GET", `/jobs/${job.id}/logs?after=3`)).body).toEqual({ events: [], nextSeq: 3 });
    const waiting = call("GET", `/jobs/${job.id}/wait?timeoutMs=60000`);
    await h.settle();
    r.send({ type: "result", jobId: job.id, attempt: 1, lastSeq: 3, status: "succeeded", output: { ok: true }, startedAt: 1, finishedAt: 2 });
    await h.settle();
    expect((await waiting).body).toMatchObject({ status: "succeeded", output: { ok: true } });
    expect((await call("GET", `/jobs/${job.id}/wait?timeoutMs=0`)).body.status).toBe("succeeded");
  });

  test("POST /api/v1/runners registers once (409 again), rotate=true issues a new key", async () => {
    h = await openController(store);
    const created = await call("POST", "/runners", { id: "edge-1", group: "eu" });
    await h.settle();
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: "edge-1", group: "eu", apiKey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect((await call("POST", "/runners", { id: "edge-1" })).status).toBe(409);
    const rotated = await call("POST", "/runners?rotate=true", { id: "edge-1" });
    await h.settle();
    expect(rotated.status).toBe(200);
    expect(rotated.body.apiKey).not.toBe(created.body.apiKey);
    expect(rotated.body.group).toBe("eu");
    expect(h.controller.runners.authenticate("edge-1", created.body.apiKey)).toBeUndefined();
    expect(h.controller.runners.authenticate("edge-1", rotated.body.apiKey)?.id).toBe("edge-1");
    // Only the hash is stored.
    expect(JSON.stringify([...h.controller.core.store.runners.values()])).not.toContain(rotated.body.apiKey);
    expect((await call("POST", "/runners", { id: "../etc" })).status).toBe(400);
    expect((await call("POST", "/runners", { id: "x", publicKey: 5 })).status).toBe(400);
  });

  test("GET /api/v1/runners shows pending, active and error from the injected clock", async () => {
    h = await openController(store);
    await call("POST", "/runners", { id: "never" });
    await h.settle();
    const r = FakeRunner.connect(h.controller, "seen");
    r.send({ type: "credit", slots: 1 });
    await h.settle();
    h.controller.submitJob({ plugin: "p" });
    await h.settle();
    let runners = (await call("GET", "/runners")).body.runners;
    await h.settle();
    expect(runners.find((x: any) => x.id === "never")).toMatchObject({ status: "pending", connected: false, runningJobs: 0 });
    expect(runners.find((x: any) => x.id === "seen")).toMatchObject({ status: "active", connected: true, transport: "websocket", version: "test", runningJobs: 1, lastSeenAt: h.clock.t });
    h.clock.advance(5 * 60_000 + 1);
    runners = (await call("GET", "/runners")).body.runners;
    await h.settle();
    expect(runners.find((x: any) => x.id === "seen").status).toBe("error");
    r.send({ type: "heartbeat", leases: [] });
    await h.settle();
    runners = (await call("GET", "/runners")).body.runners;
    await h.settle();
    expect(runners.find((x: any) => x.id === "seen").status).toBe("active");
  });

  test("DELETE /api/v1/runners/:id closes the session with 4401 and refuses its key", async () => {
    h = await openController(store);
    const r = FakeRunner.connect(h.controller, "gone");
    await h.settle();
    expect((await call("DELETE", "/runners/gone")).body).toEqual({ id: "gone", deleted: true });
    expect(r.closedWith).toBe(4401);
    expect((await call("DELETE", "/runners/gone")).status).toBe(404);
    expect(() => r.reconnect()).toThrow("unknown runner or wrong API key");
  });
});
