// Start-up and footprint of the compiled executable: size, `--version` wall time, spawn of
// `edge-runner run` until /readyz answers 200 (against `edge-runner controller`), idle RSS, and
// RSS per warm plugin worker. Every process started here is stopped here, by its own pid.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { HelloWorlds } from "./hello-world.ts";
import { peakRss } from "./hello-world.ts";
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
  /** The compiled hello-worlds measured in the same rounds (interleaved), as the floor. */
  floor: HelloWorlds;
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
  /** Peak RSS of `edge-runner --version`. */
  versionPeakRssBytes: number;
  floor: {
    /** `hello` wall time, median of as many runs as --version, interleaved with them. */
    versionMs: number;
    /** Peak RSS of `hello`. */
    peakRssBytes: number;
    /** Each run: spawn of `hello-server` → first 200, interleaved with the runner's. */
    readyMs: number[];
    /** RSS of `hello-server` after the same settle time as the runner's idle RSS. */
    idleRssBytes: number;
  };
}

export async function binaryFootprint(options: BinaryOptions): Promise<BinaryFootprint> {
  const { binary } = options;
  const sizeBytes = statSync(binary).size;

  const { floor } = options;
  for (let i = 0; i < 2; i++) {
    await timeSpawn(binary, ["--version"]);
    await timeSpawn(floor.hello, []);
  }
  const version: number[] = [];
  const helloVersion: number[] = [];
  let versionLine = "";
  for (let i = 0; i < options.versionRuns; i++) {
    const timing = await timeSpawn(binary, ["--version"]);
    version.push(timing.exitMs);
    versionLine = timing.firstLine;
    helloVersion.push((await timeSpawn(floor.hello, [])).exitMs);
  }
  const versionPeakRssBytes = median(Array.from({ length: 3 }, () => peakRss(binary, ["--version"])));
  const helloPeakRssBytes = median(Array.from({ length: 3 }, () => peakRss(floor.hello, [])));

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

    // As in production (the runner warns without one): a key pair on disk. Without it every
    // start generates a throwaway RSA-4096 pair first (~0.5 s), which this row is not about.
    await timeSpawn(binary, ["keygen", "--data-dir", path.join(dir, "runner-data")]);
    const statusPort = await freePort();
    const runArgs = [
      "run", "--runner-id", "bench", "--api-key-file", keyFile, "--controller-url", controllerUrl,
      "--status-port", String(statusPort), "--start-jitter", "0", "--concurrency", String(options.workers),
      "--data-dir", path.join(dir, "runner-data"), "--log-level", "warn",
    ];
    const readyMs: number[] = [];
    const helloReadyMs: number[] = [];
    let helloServer: ChildProcess | undefined;
    let runner: ChildProcess | undefined;
    let startedAt = 0;
    for (let i = 0; i < options.readyRuns; i++) {
      const helloPort = await freePort();
      const helloStarted = performance.now();
      helloServer = startChild(floor.server, [String(helloPort)]);
      children.add(helloServer);
      await waitFor200(`http://127.0.0.1:${helloPort}/readyz`, 10_000, "the hello-world server", 5);
      helloReadyMs.push(performance.now() - helloStarted);
      if (i < options.readyRuns - 1) await stopChild(helloServer, children);
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
    const helloIdleRssBytes = vmRss((helloServer as ChildProcess).pid as number);
    await stopChild(helloServer as ChildProcess, children);

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
      versionPeakRssBytes,
      floor: { versionMs: median(helloVersion), peakRssBytes: helloPeakRssBytes, readyMs: helloReadyMs, idleRssBytes: helloIdleRssBytes },
    };
  } finally {
    for (const child of [...children]) await stopChild(child, children);
    rmSync(dir, { recursive: true, force: true });
  }
}
