import { expect, test } from "bun:test";
import { Redactor } from "../../src/log/redact.ts";
import { SecretBackends } from "../../src/secrets/references/secret-backends.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { secretsSection } from "../../src/status/secrets-section.ts";
import { NOW, snapshotFixture } from "./fixtures.ts";

test("secretsSection() shows each backend's health on /status, the page and /metrics; a failing backend keeps /healthz green", async () => {
  const backends = new SecretBackends({ registerSecret: () => {}, vault: { addr: "http://127.0.0.1:9", token: "t", timeoutMs: 300 }, env: { A_SECRET: "env-value-9876" }, envNames: ["A_SECRET"], now: () => NOW - 5000 });
  const signal = new AbortController().signal;
  expect(await backends.resolve("env:A_SECRET", { jobId: "j", attempt: 1, declared: ["env:A_SECRET"] }, signal)).toBe("env-value-9876");
  await backends.resolve("vault:kv/data/x#y", { jobId: "j", attempt: 1, declared: ["vault:kv/data/x#y"] }, signal).catch(() => {});
  const redactor = new Redactor();
  redactor.add("env-value-9876");
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: NOW }), redactor, sections: [secretsSection(backends)] });

  expect((await app.request("/healthz")).status).toBe(200);
  const status = (await (await app.request("/status")).json()) as { secretBackends: Array<{ backend: string; configured: boolean; lastError?: { code: string } }> };
  expect(status.secretBackends.find((b) => b.backend === "vault")).toMatchObject({ configured: true, lastError: { code: "secret_backend_unavailable" } });
  expect(status.secretBackends.find((b) => b.backend === "env")?.lastError).toBeUndefined();
  const page = await (await app.request("/")).text();
  expect(page).toContain("Secret backends");
  expect(page).toContain("failing");
  const metrics = await (await app.request("/metrics")).text();
  expect(metrics).toContain('edge_runner_secret_resolutions_total{backend="env",outcome="ok"} 1');
  expect(metrics).toContain('edge_runner_secret_resolutions_total{backend="vault",outcome="unavailable"} 1');
  expect(metrics).toContain('edge_runner_secret_backend_last_error_timestamp_seconds{backend="vault"}');
  for (const text of [JSON.stringify(status), page, metrics]) expect(text).not.toContain("env-value-9876");
});

test("createStatusApp() masks secrets in /metrics label values", async () => {
  const redactor = new Redactor();
  redactor.add("label-secret-1234");
  const app = createStatusApp({ snapshot: () => snapshotFixture({ workers: [{ id: 1, plugin: "p-label-secret-1234", state: "idle", jobsServed: 1, startedAt: NOW }] }), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: NOW }), redactor });
  const metrics = await (await app.request("/metrics")).text();
  expect(metrics).toContain('plugin="p-[REDACTED]"');
  expect(metrics).not.toContain("label-secret-1234");
});
