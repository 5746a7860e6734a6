import { afterEach, expect, test } from "bun:test";
import { createStatusApp } from "../../src/status/app.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { redactor } from "../../src/log/redact.ts";
import type { RunnerSnapshot } from "../../src/status/snapshot.ts";
import { snapshotFixture, NOW } from "./fixtures.ts";

const appFor = (snapshot: RunnerSnapshot | (() => RunnerSnapshot)) =>
  createStatusApp({
    snapshot: typeof snapshot === "function" ? snapshot : () => snapshot,
    metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: NOW }),
  });

const FAKE_KEY = "erk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
afterEach(() => redactor.remove(FAKE_KEY));

test("createStatusApp() GET /healthz answers 200 with each loop's age", async () => {
  const res = await appFor(snapshotFixture()).request("/healthz");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: "ok", loops: [{ name: "heartbeat", lastTickSecondsAgo: 2 }] });
});

test("createStatusApp() GET /healthz answers 503 naming a stale loop", async () => {
  const res = await appFor(snapshotFixture({ loops: [{ name: "heartbeat", lastTickAt: NOW - 93_000, maxSilenceMs: 30_000 }] })).request("/healthz");
  expect(res.status).toBe(503);
  const body = (await res.json()) as { status: string; reason: string };
  expect(body.status).toBe("unhealthy");
  expect(body.reason).toBe("heartbeat loop last ticked 93 s ago");
});

test("createStatusApp() GET /readyz answers 200 when ready and 503 with the reason otherwise", async () => {
  expect((await appFor(snapshotFixture()).request("/readyz")).status).toBe(200);
  const busy = await appFor(snapshotFixture({ freeSlots: 0 })).request("/readyz");
  expect(busy.status).toBe(503);
  expect(await busy.json()).toEqual({ ready: false, kind: "busy", reason: "busy: every slot runs a job (4/4)" });
  const draining = await appFor(snapshotFixture({ state: "draining" })).request("/readyz");
  expect(await draining.json()).toEqual({ ready: false, kind: "draining", reason: "draining" });
});

test("createStatusApp() GET /status returns the snapshot with ages and readiness", async () => {
  const res = await appFor(snapshotFixture()).request("/status");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  const doc = (await res.json()) as Record<string, unknown> & { running: Array<{ elapsedMs: number }>; connection: { state: string; sinceMs: number } };
  expect(doc.runnerId).toBe("runner-eu-1");
  expect(doc.group).toBe("default");
  expect(doc.version).toBe("1.2.3");
  expect(doc.ready).toBe(true);
  expect(doc.connection.state).toBe("connected");
  expect(doc.connection.sinceMs).toBe(192_000);
  expect(doc.running[0]?.elapsedMs).toBe(12_000);
  expect(doc.recent).toHaveLength(2);
  expect(doc.workers).toHaveLength(1);
});

test("createStatusApp() GET /metrics serves text format 0.0.4", async () => {
  const res = await appFor(snapshotFixture()).request("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  expect(await res.text()).toContain("edge_runner_up 1\n");
});

test("createStatusApp() GET / serves the HTML page with a strict CSP", async () => {
  const res = await appFor(snapshotFixture()).request("/");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/html");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
  expect(csp).not.toContain("unsafe-inline");
  expect(await res.text()).toContain("runner-eu-1");
});

test("createStatusApp() answers an unknown path with 404 JSON", async () => {
  const res = await appFor(snapshotFixture()).request("/nope?x=1");
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: { code: "not_found", message: 'No status endpoint at "/nope" for GET' } });
});

test("createStatusApp() sets security headers on every answer, errors included", async () => {
  const app = appFor(snapshotFixture());
  for (const path of ["/", "/healthz", "/readyz", "/status", "/metrics", "/missing"]) {
    const res = await app.request(path);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  }
});

test("createStatusApp() answers 500 JSON, not a crash, when the snapshot throws", async () => {
  const app = appFor(() => {
    throw new Error(`snapshot broke near ${FAKE_KEY}`);
  });
  redactor.add(FAKE_KEY);
  for (const path of ["/healthz", "/readyz", "/status", "/metrics", "/"]) {
    const res = await app.request(path);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain(`Cannot answer \\"${path}\\"`);
    expect(text).not.toContain(FAKE_KEY);
    expect(res.headers.get("cache-control")).toBe("no-store");
  }
});

test("createStatusApp() never shows a secret on any endpoint", async () => {
  redactor.add(FAKE_KEY);
  const snapshot = snapshotFixture({
    controllerUrl: `https://runner:${FAKE_KEY}@controller.example.com/?token=${FAKE_KEY}`,
    connection: { state: "backoff", since: NOW - 5_000, reconnects: 3, protocolErrors: 1, lastError: `401 for key ${FAKE_KEY}` },
    state: "connecting",
  });
  snapshot.recent.push({
    jobId: "job-secret", attempt: 1, plugin: "http", status: "failed", errorCode: "plugin_error",
    errorMessage: `POST failed: Authorization: Bearer ${FAKE_KEY}`, durationMs: 10, finishedAt: NOW - 1_000,
  });
  const app = appFor(snapshot);
  for (const path of ["/", "/healthz", "/readyz", "/status", "/metrics", `/${FAKE_KEY}`]) {
    const res = await app.request(path);
    const text = await res.text();
    expect(text).not.toContain(FAKE_KEY);
    for (const [, value] of res.headers) expect(value).not.toContain(FAKE_KEY);
  }
  const doc = (await (await app.request("/status")).json()) as { controllerUrl: string; recent: Array<{ errorMessage?: string }> };
  expect(doc.controllerUrl).toBe("https://controller.example.com");
  expect(doc.recent.at(-1)?.errorMessage).toBe("POST failed: Authorization: Bearer [REDACTED]");
});
