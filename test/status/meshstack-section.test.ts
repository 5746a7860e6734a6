import { expect, test } from "bun:test";
import { Redactor } from "../../src/log/redact.ts";
import { createStatusApp } from "../../src/status/app.ts";
import { meshstackSection, type MeshstackSnapshot } from "../../src/status/meshstack-section.ts";
import { RunnerMetrics } from "../../src/status/metrics.ts";
import { NOW, snapshotFixture } from "./fixtures.ts";

test("meshstackSection() shows the last claim poll, claims, login errors, runs and results on /status, the page and /metrics, redacted and escaped", async () => {
  const redactor = new Redactor();
  redactor.add("leaked-client-secret");
  const source = (): MeshstackSnapshot => ({
    runnerUuid: "0b4e6f0a-1111-4222-8333-944455556666",
    logins: 2,
    lastLoginError: { at: NOW - 1000, message: "Cannot log in: leaked-client-secret refused" },
    lastClaimPollAt: NOW - 4000,
    claims: { claimed: 3, none: 10, conflict: 1, failed: 2 },
    statusCalls: { ok: 7, failed: 1 },
    running: [{ runUuid: "run-a", workspace: "<ws>", type: "TERRAFORM", behavior: "APPLY", claimedAt: NOW - 2000 }],
    recent: [{ runUuid: "run-b", workspace: "ws2", type: "MANUAL", status: "FAILED", message: "key pair does not match", finishedAt: NOW - 500 }],
    outboxRuns: 1,
    recoveredRuns: 0,
    unreadable: [{ file: "/data/meshstack/runs/run-c.run.json", reason: "the meshStack outbox key file does not match" }],
  });
  const app = createStatusApp({ snapshot: () => snapshotFixture(), metrics: new RunnerMetrics({ residentMemoryBytes: () => 1, processStartMs: NOW }), redactor, sections: [meshstackSection(source, () => NOW)] });
  const status = (await (await app.request("/status")).json()) as { meshstack: { lastClaimPollAgoMs: number; running: Array<{ runUuid: string; workspace: string }>; lastLoginError: { message: string } } };
  expect(status.meshstack.lastClaimPollAgoMs).toBe(4000);
  expect(status.meshstack.running[0]).toMatchObject({ runUuid: "run-a", workspace: "<ws>" });
  expect(status.meshstack.lastLoginError.message).toContain("[REDACTED]");
  const page = await (await app.request("/")).text();
  expect(page).toContain("meshStack");
  expect(page).toContain("run-a");
  expect(page).toContain("&lt;ws&gt;");
  expect(page).not.toContain("<ws>");
  expect(page).toContain("Login failing");
  expect(page).toContain("Outbox file not resumed");
  expect(page).toContain("run-c.run.json");
  const metrics = await (await app.request("/metrics")).text();
  expect(metrics).toContain('edge_runner_meshstack_claims_total{outcome="claimed"} 3');
  expect(metrics).toContain("edge_runner_meshstack_last_claim_poll_age_seconds 4");
  expect(metrics).toContain("edge_runner_meshstack_login_failing 1");
  expect(metrics).toContain("edge_runner_meshstack_outbox_runs 1");
  expect(metrics).toContain("edge_runner_meshstack_outbox_unreadable 1");
  for (const text of [JSON.stringify(status), page, metrics]) expect(text).not.toContain("leaked-client-secret");
});
