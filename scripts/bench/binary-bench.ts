// Start-up and footprint of the compiled executable: size, `--version` wall time, spawn of
// `edge-runner run` until /readyz answers 200 (against `edge-runner controller`), idle RSS, and
// RSS per warm plugin worker. Every process started here is stopped here, by its own pid.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { freePort, sleep, startChild, stopChild, vmRss, waitFor200 } from "./processes.ts";
import { timeSpawn } from "./spawn-timer.ts";
import { median } from "./stats.ts";

export interface BinaryOptions {
  binary: string;
  versionRuns: number;
  readyRuns: number;
  /** Idle RSS is read this long after the last runner was spawned. */
  idleSettleMs: number;
  /** Warm workers to start for the per-worker memory figure (echo, maxWorkersPerPlugin = this). */
  workers: number;
}

export interface BinaryFootprint {
  sizeBytes: number;
  versionMs: number;
  versionLine: string;
  /** Each run: spawn → first 200 from /readyz. */
  readyMs: number[];
  idleRssBytes: number;
  rssWithWorkersBytes: number;
  workersSeen: number;
  perWorkerBytes: number;
}

export async function binaryFootprint(options: BinaryOptions): Promise<BinaryFootprint> {
  const { binary } = options;
  const sizeBytes = statSync(binary).size;

  for (let i = 0; i < 2; i++) await timeSpawn(binary, ["--version"]);
  const version: number[] = [];
  let versionLine = "";
  for (let i = 0; i < options.versionRuns; i++) {
    const timing = await timeSpawn(binary, ["--version"]);
    version.push(timing.exitMs);
    versionLine = timing.firstLine;
  }

  const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-bench-bin-"));
  const children = new Set<ChildProcess>();
  try {
    const controllerPort = await freePort();
    const controllerUrl = `http://127.0.0.1:${controllerPort}`;
    const controllerDir = path.join(dir, "controller-data");
    children.add(startChild(binary, ["controller", "--data-dir", controllerDir, "--listen-port", String(controllerPort), "--log-level", "warn"]));
    await waitFor200(`${controllerUrl}/api/v1/health`, 10_000, "the controller's /api/v1/health");
    const keyFile = path.join(dir, "bench.key");
    await timeSpawn(binary, ["runner", "register", "bench", "--api-key-out", keyFile, "--controller-url", controllerUrl, "--data-dir", controllerDir]);
    const adminToken = readFileSync(path.join(controllerDir, "controller", "admin-token"), "utf8").trim();

    const statusPort = await freePort();
    const runArgs = [
      "run", "--runner-id", "bench", "--api-key-file", keyFile, "--controller-url", controllerUrl,
      "--status-port", String(statusPort), "--start-jitter", "0", "--concurrency", String(options.workers),
      "--data-dir", path.join(dir, "runner-data"), "--log-level", "warn",
    ];
    const readyMs: number[] = [];
    let runner: ChildProcess | undefined;
    let startedAt = 0;
    for (let i = 0; i < options.readyRuns; i++) {
      startedAt = performance.now();
      runner = startChild(binary, runArgs);
      children.add(runner);
      await waitFor200(`http://127.0.0.1:${statusPort}/readyz`, 10_000, "the runner's /readyz", 5);
      readyMs.push(performance.now() - startedAt);
      if (i < options.readyRuns - 1) await stopChild(runner, children);
    }
    const pid = (runner as ChildProcess).pid as number;
    await sleep(Math.max(0, startedAt + options.idleSettleMs - performance.now()));
    const idleRssBytes = vmRss(pid);

    // N sleeping jobs at once force N workers of echo; they stay warm (idle) afterwards.
    const api = (p: string, init?: RequestInit) =>
      fetch(`${controllerUrl}/api/v1${p}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" } });
    const ids: string[] = [];
    for (let i = 0; i < options.workers; i++) {
      const response = await api("/jobs", { method: "POST", body: JSON.stringify({ plugin: "echo", action: "sleep", input: { ms: 1500 } }) });
      if (response.status !== 201) throw new Error(`Cannot submit a sleep job: HTTP ${response.status} ${await response.text()}`);
      ids.push(((await response.json()) as { id: string }).id);
    }
    for (const id of ids) {
      const job = (await (await api(`/jobs/${id}/wait?timeoutMs=30000`)).json()) as { status: string };
      if (job.status !== "succeeded") throw new Error(`Cannot measure worker memory: sleep job "${id}" ended ${job.status}`);
    }
    await sleep(1000);
    const status = (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as { workers?: unknown[] };
    const workersSeen = status.workers?.length ?? 0;
    const rssWithWorkersBytes = vmRss(pid);
    await stopChild(runner as ChildProcess, children);
    return {
      sizeBytes,
      versionMs: median(version),
      versionLine,
      readyMs,
      idleRssBytes,
      rssWithWorkersBytes,
      workersSeen,
      perWorkerBytes: workersSeen > 0 ? (rssWithWorkersBytes - idleRssBytes) / workersSeen : Number.NaN,
    };
  } finally {
    for (const child of [...children]) await stopChild(child, children);
    rmSync(dir, { recursive: true, force: true });
  }
}
