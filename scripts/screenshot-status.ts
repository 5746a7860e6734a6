// Screenshots the status page with a realistic fake runner, so the page can be looked at and
// docs/status.png kept current. Run with: bun scripts/screenshot-status.ts
// Options: --width=390 (phone check), --height=900, --out=PATH, --dark (prefers-color-scheme: dark),
// --disconnected (the controller unreachable for 4 minutes).

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serveHttp } from "../src/platform/http-server.ts";
import { createStatusApp } from "../src/status/app.ts";
import { RunnerMetrics } from "../src/status/metrics.ts";
import type { RunnerSnapshot } from "../src/status/snapshot.ts";

const CHROMIUM = "/usr/bin/chromium";
const TIMEOUT_MS = 60_000;

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k as string, v ?? "true"] as const;
  }),
);
const root = new URL("..", import.meta.url).pathname;
const width = Number(args.get("width") ?? 1280);
const height = Number(args.get("height") ?? 900);
const out = resolve(args.get("out") ?? join(root, "docs/status.png"));

/** A runner an hour into a normal day: three jobs running, one retried, every result kind. */
function fakeSnapshot(): RunnerSnapshot {
  const now = Date.now();
  const ago = (ms: number) => now - ms;
  return {
    runnerId: "runner-fra-prod-01",
    group: "prod-eu",
    version: "0.1.0",
    commit: "4f2c9a1e7b3d",
    runtime: "bun",
    pid: 31847,
    startedAt: ago(3 * 86_400_000 + 4 * 3_600_000 + 17 * 60_000),
    state: "ready",
    stateSince: ago(3 * 86_400_000 + 4 * 3_600_000),
    connection: { state: "connected", since: ago(192_000), transport: "websocket", reconnects: 2, protocolErrors: 0 },
    controllerUrl: "https://automation.example.com",
    concurrency: 4,
    freeSlots: 1,
    running: [
      { jobId: "job_01HZX4K7Q2M8TERRA", attempt: 1, plugin: "terraform", action: "apply", startedAt: ago(4 * 60_000 + 31_000) },
      { jobId: "job_01HZX4P9D3GITHUB", attempt: 2, plugin: "github-actions", action: "dispatch", startedAt: ago(47_000) },
      { jobId: "job_01HZX4R1B6SHELL0", attempt: 1, plugin: "shell", action: "run", startedAt: ago(3_200) },
    ],
    recent: [
      { jobId: "job_01HZX4J2W8HTTP00", attempt: 1, plugin: "http", status: "succeeded", durationMs: 412, finishedAt: ago(21_000) },
      { jobId: "job_01HZX4H5N1TOFU00", attempt: 1, plugin: "terraform", status: "failed", errorCode: "plugin_error", errorMessage: "Error: creating S3 bucket: AccessDenied (status 403)", durationMs: 96_400, finishedAt: ago(2 * 60_000 + 5_000) },
      { jobId: "job_01HZX4G7C4GITLAB", attempt: 1, plugin: "gitlab", status: "timed_out", errorCode: "job_timeout", errorMessage: "Job exceeded its timeout of 15 m", durationMs: 900_000, finishedAt: ago(6 * 60_000) },
      { jobId: "job_01HZX4F3V9ADO000", attempt: 1, plugin: "azure-devops", status: "cancelled", errorCode: "job_cancelled", errorMessage: "Cancelled by alice@example.com", durationMs: 12_800, finishedAt: ago(11 * 60_000) },
      { jobId: "job_01HZX4E8Z2SHELL0", attempt: 3, plugin: "shell", status: "interrupted", errorCode: "job_interrupted", errorMessage: "Runner drained before the job finished", durationMs: 60_000, finishedAt: ago(42 * 60_000) },
      { jobId: "job_01HZX4D1K7HTTP00", attempt: 1, plugin: "http", status: "succeeded", durationMs: 1_870, finishedAt: ago(58 * 60_000) },
    ],
    workers: [
      { id: 3, plugin: "terraform", state: "busy", jobsServed: 14, startedAt: ago(2 * 3_600_000 + 12 * 60_000), memoryBytes: 182 * 1024 * 1024 },
      { id: 5, plugin: "github-actions", state: "busy", jobsServed: 6, startedAt: ago(35 * 60_000), memoryBytes: 41 * 1024 * 1024 },
      { id: 6, plugin: "http", state: "idle", jobsServed: 128, startedAt: ago(18 * 60_000), memoryBytes: 23 * 1024 * 1024 },
    ],
    loops: [
      { name: "heartbeat", lastTickAt: ago(3_000), maxSilenceMs: 30_000 },
      { name: "credit", lastTickAt: ago(1_000), maxSilenceMs: 30_000 },
    ],
    now,
    ...(args.get("disconnected") === "true"
      ? {
          state: "connecting" as const,
          connection: { state: "backoff" as const, since: ago(4 * 60_000 + 8_000), reconnects: 9, protocolErrors: 0, lastError: "connect ECONNREFUSED 10.20.0.4:443" },
        }
      : {}),
  };
}

if (!existsSync(CHROMIUM)) {
  process.stderr.write(`Cannot take the screenshot: ${CHROMIUM} is missing. Install it: apt-get install chromium\n`);
  process.exit(1);
}

const metrics = new RunnerMetrics();
const server = await serveHttp(createStatusApp({ snapshot: fakeSnapshot, metrics }), { hostname: "127.0.0.1", port: 0 });
const profile = mkdtempSync(join(tmpdir(), "edge-runner-chromium-"));
let status = 1;
try {
  const chromeArgs = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
    ...(args.get("dark") === "true" ? ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] : []),
    `--user-data-dir=${profile}`, `--window-size=${width},${height}`, `--screenshot=${out}`, `${server.url}/`,
  ];
  status = await new Promise<number>((done) => {
    const child = spawn(CHROMIUM, chromeArgs, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      process.stderr.write(`Cannot take the screenshot: chromium did not finish within ${TIMEOUT_MS / 1000} s\n`);
      child.kill("SIGKILL");
    }, TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      process.stderr.write(`Cannot start ${CHROMIUM}: ${error.message}\n`);
      done(1);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) process.stderr.write(stderr.slice(-2000));
      done(code ?? 1);
    });
  });
  if (status === 0) process.stdout.write(`wrote ${out} (${width}×${height})\n`);
} finally {
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status === 0 ? 0 : 1);
