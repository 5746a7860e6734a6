// A ready runner's snapshot for status tests; each test overrides what it is about.

import type { RunnerSnapshot } from "../../src/status/snapshot.ts";

export const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);

export function snapshotFixture(overrides: Partial<RunnerSnapshot> = {}): RunnerSnapshot {
  return {
    runnerId: "runner-eu-1",
    group: "default",
    version: "1.2.3",
    commit: "abc123def456",
    runtime: "bun",
    pid: 4242,
    startedAt: NOW - 3_600_000,
    state: "ready",
    stateSince: NOW - 3_500_000,
    connection: { state: "connected", since: NOW - 192_000, transport: "websocket", reconnects: 2, protocolErrors: 0 },
    controllerUrl: "https://controller.example.com",
    concurrency: 4,
    freeSlots: 3,
    prefetch: 0,
    held: [],
    running: [{ jobId: "job-1", attempt: 1, plugin: "http", action: "request", startedAt: NOW - 12_000 }],
    recent: [
      { jobId: "job-0", attempt: 1, plugin: "shell", status: "succeeded", durationMs: 850, finishedAt: NOW - 60_000 },
      { jobId: "job-9", attempt: 2, plugin: "terraform", status: "failed", errorCode: "plugin_error", errorMessage: "exit status 1", durationMs: 93_000, finishedAt: NOW - 5_000 },
    ],
    workers: [{ id: 1, plugin: "http", state: "busy", jobsServed: 7, startedAt: NOW - 600_000, memoryBytes: 12 * 1024 * 1024 }],
    loops: [{ name: "heartbeat", lastTickAt: NOW - 2_000, maxSilenceMs: 30_000 }],
    now: NOW,
    ...overrides,
  };
}
