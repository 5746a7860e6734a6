// Fuzz target 4 (docs/testing.md, "Fuzzing"): what an HTTP client sends the reference controller
// (admin API, edge endpoints, callbacks, bundles) and the runner's status server: mutated bodies,
// paths, query strings and headers, driven in memory through each Hono app's request(). Each case:
// an answer within a bounded time, never a 500 (an exception the code did not expect), an error
// body {error: {code, message}} whose message names what was wrong; and the controller still
// serves after the run.

import { afterAll, expect, test } from "bun:test";
import { makeController, type Harness } from "../reference-controller/helpers.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { snapshotFixture, NOW } from "../status/fixtures.ts";
import { caseLabel, fuzzCases, fuzzSeed, heapUsed, hostileValue, invalidUtf8, mutate, mutateText, Rng, fuzzTimeout } from "./fuzz-kit.ts";

const harnesses: Harness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.controller.close();
});

interface Endpoint {
  method: string;
  path: string;
  /** "admin": the admin token; "runner": the runner's key (and id header); "none". */
  auth: "admin" | "runner" | "none";
  body?: unknown;
  query?: Record<string, string>;
}

/** Valid requests, one per route: the fuzz mutates their bodies, path segments, queries and headers. */
const ENDPOINTS: Endpoint[] = [
  { method: "POST", path: "/api/v1/jobs", auth: "admin", body: { plugin: "echo", action: "default", input: { a: [1, "b"] }, group: "default", timeoutMs: 5000, maxAttempts: 2 } },
  { method: "GET", path: "/api/v1/jobs", auth: "admin", query: { status: "queued", limit: "10", group: "default" } },
  { method: "GET", path: "/api/v1/jobs/JOB", auth: "admin" },
  { method: "POST", path: "/api/v1/jobs/JOB/cancel", auth: "admin", body: { reason: "no longer needed" } },
  { method: "POST", path: "/api/v1/jobs/JOB/approve", auth: "admin", body: { comment: "ok", by: "me" } },
  { method: "POST", path: "/api/v1/jobs/JOB/reject", auth: "admin", body: { comment: "no" } },
  { method: "GET", path: "/api/v1/jobs/JOB/logs", auth: "admin", query: { after: "0", limit: "100" } },
  { method: "GET", path: "/api/v1/jobs/JOB/outputs/token", auth: "admin" },
  { method: "GET", path: "/api/v1/jobs/JOB/artifacts", auth: "admin" },
  { method: "GET", path: "/api/v1/jobs/JOB/artifacts/plan.bin", auth: "admin" },
  { method: "POST", path: "/api/v1/runners", auth: "admin", body: { id: "r2", group: "default" } },
  { method: "GET", path: "/api/v1/runners", auth: "admin" },
  { method: "DELETE", path: "/api/v1/runners/r9", auth: "admin" },
  { method: "GET", path: "/api/v1/secrets", auth: "admin" },
  { method: "PUT", path: "/api/v1/secrets/db", auth: "admin", body: { value: "s3cr3t-value" } },
  { method: "DELETE", path: "/api/v1/secrets/db", auth: "admin" },
  { method: "GET", path: "/api/v1/health", auth: "none" },
  { method: "GET", path: "/api/v1/plugins/hello/1.0.0/manifest", auth: "admin" },
  { method: "PUT", path: "/api/v1/plugins/hello/1.0.0", auth: "admin", body: { manifest: { name: "hello", version: "1.0.0" }, bundle: "ZXhwb3J0IHt9" } },
  { method: "POST", path: "/edge/v1/sessions", auth: "runner", body: { v: 1, runnerId: "r1", group: "default", version: "1.0.0", transport: "poll" } },
  { method: "POST", path: "/edge/v1/check", auth: "runner", body: { v: 1, runnerId: "r1" } },
  { method: "POST", path: "/edge/v1/keys", auth: "runner", body: { v: 1, runnerId: "r1", keys: [{ kty: "RSA", n: "AQAB", e: "AQAB", kid: "k1" }] } },
  { method: "POST", path: "/edge/v1/secrets/resolve", auth: "runner", body: { v: 1, jobId: "JOB", attempt: 1, ref: "controller:db" } },
  { method: "POST", path: "/edge/v1/sessions/SESSION/send", auth: "runner", body: { messages: [{ v: 1, type: "credit", slots: 1 }, { v: 1, type: "heartbeat", leases: [{ jobId: "JOB", attempt: 1 }] }] } },
  { method: "GET", path: "/edge/v1/sessions/SESSION/receive", auth: "runner", query: { waitMs: "0" } },
  { method: "DELETE", path: "/edge/v1/sessions/SESSION", auth: "runner" },
  { method: "PUT", path: "/edge/v1/artifacts/JOB/1/plan.bin", auth: "runner", body: "plan bytes" },
  { method: "GET", path: "/callback/v1/jobs/JOB/approval", auth: "none", query: { token: "t" } },
  { method: "POST", path: "/callback/v1/jobs/JOB/steps", auth: "none", body: { id: "s1", status: "running" } },
  { method: "POST", path: "/callback/v1/jobs/JOB/logs", auth: "none", body: { lines: [{ level: "info", msg: "x" }] } },
  { method: "POST", path: "/callback/v1/jobs/JOB/result", auth: "none", body: { status: "succeeded", output: { a: 1 } } },
];

/** A path segment a hostile client puts where an id belongs. */
function hostileSegment(rng: Rng): string {
  return rng.pick(["..", "%2e%2e", "%00", "a%2Fb", "x".repeat(rng.pick([129, 5000])), "__proto__", "constructor", "%ff%fe", "%E2%80%AE", "-1", "1e400", "NaN", "%", "%zz", "a b", ""]);
}

function mutatePath(path: string, rng: Rng): string {
  const parts = path.split("/");
  const i = 1 + rng.int(parts.length - 1);
  parts[i] = hostileSegment(rng);
  return parts.join("/");
}

/** A hostile value as a query string value: lone surrogates as the bytes a client would send. */
function queryText(value: unknown): string {
  const text = (typeof value === "string" ? value : JSON.stringify(value) ?? "undefined").slice(0, 2000);
  try {
    return encodeURIComponent(text);
  } catch {
    return "%ED%A0%80";
  }
}

/** Answers within `ms`, or "held" (a long poll or a wait the fake clock never ends). */
async function within(response: Promise<Response>, ms: number): Promise<Response | "held"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const held = new Promise<"held">((resolve) => (timer = setTimeout(() => resolve("held"), ms)));
  const answer = await Promise.race([response, held]);
  clearTimeout(timer);
  return answer;
}

test("fuzz: mutated HTTP requests to the reference controller never answer 500 and name what was wrong", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x4);
  const h = makeController();
  harnesses.push(h);
  const admin = { authorization: "Bearer test-admin-token" };
  const app = h.controller.app;
  const registered = (await (await app.request("/api/v1/runners", { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ id: "r1", group: "default" }) })).json()) as { apiKey: string };
  const runner = { authorization: `Bearer ${registered.apiKey}`, "x-edge-runner-id": "r1" };
  const job = (await (await app.request("/api/v1/jobs", { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ plugin: "echo" }) })).json()) as { id: string };
  const session = (await (await app.request("/edge/v1/sessions", { method: "POST", headers: { ...runner, "content-type": "application/json" }, body: JSON.stringify({ v: 1, runnerId: "r1", group: "default", version: "1", transport: "poll" }) })).json()) as { sessionId: string; token: string };
  expect(typeof session.sessionId).toBe("string");

  const before = heapUsed();
  const cases = fuzzCases(2500);
  const statuses = new Map<number, number>();
  const messages = new Set<string>();
  for (let i = 0; i < cases; i++) {
    const e = rng.pick(ENDPOINTS);
    let path = e.path.replace("JOB", job.id).replace("SESSION", session.sessionId);
    const headers: Record<string, string> = { ...(e.auth === "admin" ? admin : e.auth === "runner" ? (e.path.includes("/sessions/") ? { authorization: `Bearer ${session.token}` } : runner) : {}) };
    let body: BodyInit | undefined = e.body === undefined ? undefined : typeof e.body === "string" ? e.body : JSON.stringify(e.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const query = new URLSearchParams(e.query);
    switch (rng.int(8)) {
      case 0:
      case 1:
        if (e.body !== undefined && typeof e.body !== "string") body = JSON.stringify(mutate(e.body, rng));
        break;
      case 2:
        if (body !== undefined) body = rng.chance(0.5) ? mutateText(body as string, rng) : invalidUtf8("{\"a\":\"");
        break;
      case 3:
        path = mutatePath(path, rng);
        break;
      case 4: {
        const key = e.query !== undefined && rng.chance(0.7) ? rng.pick(Object.keys(e.query)) : rng.pick(["__proto__", "limit", "after", "waitMs", "status", "cursor", "rotate"]);
        const v = hostileValue(rng);
        query.set(key, typeof v === "string" ? v : JSON.stringify(v) ?? "undefined");
        if (rng.chance(0.3)) query.append(key, "2");
        break;
      }
      case 5: {
        const name = rng.pick(["authorization", "content-type", "content-length", "x-edge-runner-id", "host", "accept"]);
        headers[name] = rng.pick(["Bearer ", "Bearer x".padEnd(5000, "x"), "Basic Og==", "application/x-www-form-urlencoded", "-1", "99999999999", "1e3", "", "\u00ff\u00fe"]);
        break;
      }
      case 6:
        delete headers.authorization;
        break;
      default:
        if (body !== undefined && rng.chance(0.5)) body = JSON.stringify({ wrap: "x".repeat(1_100_000) });
    }
    const url = `${path}${[...query].length > 0 ? `?${query}` : ""}`;
    const label = caseLabel(seed, i, `${e.method} ${url} ${JSON.stringify(headers)} ${String(body).slice(0, 200)}`);
    let answer: Response | "held";
    try {
      answer = await within(Promise.resolve(app.request(url, { method: e.method, headers, ...(body === undefined ? {} : { body }) })), 200);
    } catch (error) {
      // A request the Request constructor itself refuses (a header value it cannot carry) never reaches a server.
      if (error instanceof TypeError && /header|Header|URL|url/.test(error.message)) continue;
      throw new Error(`${label}: threw ${String(error)}`);
    }
    if (answer === "held") continue;
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const text = await answer.text();
    expect(answer.status, `${label} → ${text.slice(0, 300)}`).not.toBe(500);
    if (answer.status >= 400 && answer.status !== 404 && answer.status !== 405) {
      let error: { code?: unknown; message?: unknown } | undefined;
      try {
        error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
      } catch {
        error = undefined;
      }
      expect(typeof error?.code === "string" && typeof error.message === "string", `${label} → ${answer.status} ${text.slice(0, 300)}`).toBe(true);
      // Sentence case naming the action ("Cannot submit a job: …"), then the field or the body.
      if (answer.status === 400) expect(String(error?.message), label).toMatch(/^Cannot [a-z]/);
      if (process.env.EDGE_FUZZ_VERBOSE && answer.status === 400) messages.add(String(error?.message).replace(/"[^"]*"/g, '"…"').slice(0, 120));
    }
  }
  if (process.env.EDGE_FUZZ_VERBOSE) console.log(Object.fromEntries(statuses), [...messages]);
  // Still serving.
  expect((await app.request("/api/v1/health")).status).toBe(200);
  expect((await app.request(`/api/v1/jobs/${job.id}`, { headers: admin })).status).toBe(200);
  expect(heapUsed() - before).toBeLessThan(96 * 1024 * 1024);
}, fuzzTimeout());

test("fuzz: mutated requests to the runner's status server never answer 500", async () => {
  const seed = fuzzSeed();
  const rng = new Rng(seed ^ 0x44);
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: NOW }) });
  const paths = ["/", "/healthz", "/readyz", "/status", "/metrics", "/status.json", "/favicon.ico"];
  const cases = fuzzCases(1500);
  for (let i = 0; i < cases; i++) {
    let path = rng.pick(paths);
    if (rng.chance(0.4)) path = `${path}${path.endsWith("/") ? "" : "/"}${hostileSegment(rng)}`;
    const query = rng.chance(0.5) ? `?${rng.pick(["format", "__proto__", "verbose", "refresh", "jobs"])}=${queryText(hostileValue(rng))}` : "";
    const headers: Record<string, string> = rng.chance(0.5) ? { [rng.pick(["accept", "host", "if-none-match", "accept-encoding", "x-forwarded-for"])]: rng.pick(["text/html", "*/*;q=NaN", "application/json, text/html;q=0.1", "x".repeat(8000), "", "127.0.0.1:8787"]) } : {};
    const method = rng.pick(["GET", "GET", "GET", "HEAD", "POST", "OPTIONS", "DELETE"]);
    const label = caseLabel(seed, i, `${method} ${path}${query} ${JSON.stringify(headers).slice(0, 200)}`);
    let res: Response;
    try {
      res = await app.request(`${path}${query}`, { method, headers });
    } catch (error) {
      if (error instanceof TypeError && /header|URL/.test(error.message)) continue;
      throw new Error(`${label}: threw ${String(error)}`);
    }
    expect(res.status, label).not.toBe(500);
    await res.arrayBuffer();
  }
}, fuzzTimeout());
