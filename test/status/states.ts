// The status page's named states (issue 14): idle, busy, never connected, unauthorized, draining,
// as snapshots of one realistic runner. The state tests render them through app.request, and
// scripts/screenshot-status.ts screenshots each in headless Chromium.

import type { RecentResultInfo, RunnerSnapshot, RunningJobInfo, WorkerInfo } from "../../src/status/snapshot.ts";

export const STATUS_STATES = ["idle", "busy", "never-connected", "unauthorized", "draining"] as const;
export type StatusState = (typeof STATUS_STATES)[number];

export function stateSnapshot(state: StatusState, now: number): RunnerSnapshot {
  const ago = (ms: number) => now - ms;
  const running: RunningJobInfo[] = [
    { jobId: "job_01HZX4K7Q2M8TERRA", attempt: 1, plugin: "terraform", action: "apply", startedAt: ago(4 * 60_000 + 31_000) },
    { jobId: "job_01HZX4P9D3GITHUB", attempt: 2, plugin: "github-actions", action: "dispatch", startedAt: ago(47_000) },
    { jobId: "job_01HZX4R1B6SHELL0", attempt: 1, plugin: "shell", action: "run", startedAt: ago(3_200) },
    { jobId: "job_01HZX4S5T8HTTP00", attempt: 1, plugin: "http", action: "request", startedAt: ago(900) },
  ];
  const recent: RecentResultInfo[] = [
    { jobId: "job_01HZX4J2W8HTTP00", attempt: 1, plugin: "http", status: "succeeded", durationMs: 412, finishedAt: ago(21_000) },
    { jobId: "job_01HZX4H5N1TOFU00", attempt: 1, plugin: "terraform", status: "failed", errorCode: "plugin_error", errorMessage: "Error: creating S3 bucket (arn:aws:s3:::edge-runner-artifacts-prod-eu-central-1): operation error S3: CreateBucket, https response error StatusCode: 403, RequestID: 4Q8ZJ2X, api error AccessDenied: Access Denied", durationMs: 96_400, finishedAt: ago(2 * 60_000 + 5_000) },
    { jobId: "job_01HZX4G7C4GITLAB", attempt: 1, plugin: "gitlab-pipeline-trigger", status: "timed_out", errorCode: "job_timeout", errorMessage: "Job exceeded its timeout of 15 m", durationMs: 900_000, finishedAt: ago(6 * 60_000) },
    { jobId: "job_01HZX4F3V9ADO000", attempt: 1, plugin: "azure-devops", status: "cancelled", errorCode: "job_cancelled", errorMessage: "an operator asked for it (via the controller)", durationMs: 12_800, finishedAt: ago(11 * 60_000) },
    { jobId: "job_01HZX4E8Z2SHELL0", attempt: 3, plugin: "shell", status: "failed", errorCode: "job_interrupted", errorMessage: "Runner drained before the job finished", durationMs: 60_000, finishedAt: ago(42 * 60_000) },
    { jobId: "job_01HZX4D1K7HTTP00", attempt: 1, plugin: "http", status: "succeeded", durationMs: 1_870, finishedAt: ago(58 * 60_000) },
  ];
  const workers: WorkerInfo[] = [
    { id: 3, plugin: "terraform", state: "busy", jobsServed: 14, startedAt: ago(2 * 3_600_000 + 12 * 60_000), memoryBytes: 182 * 1024 * 1024 },
    { id: 5, plugin: "github-actions", state: "busy", jobsServed: 6, startedAt: ago(35 * 60_000), memoryBytes: 41 * 1024 * 1024 },
    { id: 6, plugin: "http", state: "idle", jobsServed: 128, startedAt: ago(18 * 60_000), memoryBytes: 23 * 1024 * 1024 },
  ];
  const base: RunnerSnapshot = {
    runnerId: "runner-fra-prod-01",
    group: "prod-eu",
    version: "0.1.0",
    commit: "4f2c9a1e7b3d",
    runtime: "bun",
    pid: 31847,
    startedAt: ago(3 * 86_400_000 + 4 * 3_600_000 + 17 * 60_000),
    state: "ready",
    stateSince: ago(3 * 86_400_000 + 4 * 3_600_000),
    connection: { state: "connected", since: ago(192_000), transport: "websocket", firstConnectedAt: ago(3 * 86_400_000), reconnects: 2, failedAttempts: 3, protocolErrors: 0 },
    controllerUrl: "https://automation.example.com",
    concurrency: 4,
    freeSlots: 4,
    prefetch: 0,
    running: [],
    held: [],
    recent,
    workers: workers.map((w) => ({ ...w, state: "idle" })),
    loops: [
      { name: "connection", lastTickAt: ago(3_000), maxSilenceMs: 65_000 },
      { name: "event-loop", lastTickAt: ago(400), maxSilenceMs: 10_000 },
    ],
    now,
  };
  switch (state) {
    case "idle":
      return base;
    case "busy":
      return { ...base, freeSlots: 0, running, workers };
    case "never-connected":
      return neverConnected(base, ago(31_400), { state: "backoff", since: ago(1_200), disconnectedSince: ago(31_000), failedAttempts: 6, lastError: "Cannot reach https://automation.example.com/edge/v1/sessions: connect ECONNREFUSED 10.20.0.4:443" });
    case "unauthorized":
      return neverConnected(base, ago(95_000), { state: "unauthorized", since: ago(2_000), disconnectedSince: ago(94_000), failedAttempts: 3, lastError: "The controller refused the session (401 unauthorized): unknown runner or wrong API key" });
    case "draining":
      return { ...base, state: "draining", stateSince: ago(8_000), freeSlots: 2, running: running.slice(0, 2), workers };
  }
}

/** A runner started at `startedAt` that has not had a session yet: nothing run, no workers. */
function neverConnected(base: RunnerSnapshot, startedAt: number, connection: Omit<RunnerSnapshot["connection"], "reconnects" | "protocolErrors">): RunnerSnapshot {
  return {
    ...base,
    startedAt,
    state: "connecting",
    stateSince: startedAt,
    connection: { ...connection, reconnects: 0, protocolErrors: 0 },
    recent: [],
    workers: [],
  };
}
