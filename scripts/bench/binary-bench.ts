// Start-up and footprint of the compiled executable: size, `--version` wall time, spawn of
// `edge-runner run` until /readyz answers 200 (against `edge-runner controller`) with the CPU
// time used by then, idle RSS, and RSS per warm plugin worker; each beside its hello-world floor,
// interleaved round by round. Every process started here is stopped here, by its own pid.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { HelloWorlds } from "./hello-world.ts";
import { peakRss } from "./hello-world.ts";
import { freePort, sleep, startChild, stopChild, vmRss, waitFor200 } from "./processes.ts";
import { timeSpawn } from "./spawn-timer.ts";
import { cpuTimeMs } from "./process-cpu.ts";
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
  /** Each run: CPU time (all threads) the runner had used when /readyz first answered 200. */
  readyCpuMs: number[];
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
    /** Each run: CPU time `hello-server` had used at its first 200. */
    readyCpuMs: number[];
    /** Each run: spawn of `server-net` (session + WebSocket at the controller first) → first 200. */
    netReadyMs: number[];
    netReadyCpuMs: number[];
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
    // The network floor has its own runner id, so its session never replaces the runner's.
    const floorKeyFile = path.join(dir, "floor.key");
    await timeSpawn(binary, ["runner", "register", "bench-floor", "--api-key-out", floorKeyFile, "--controller-url", controllerUrl, "--data-dir", controllerDir]);
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
    const readyCpuMs: number[] = [];
    const helloReadyMs: number[] = [];
    const helloReadyCpuMs: number[] = [];
    const netReadyMs: number[] = [];
    const netReadyCpuMs: number[] = [];
    let helloServer: ChildProcess | undefined;
    let runner: ChildProcess | undefined;
    let startedAt = 0;
    // Spawned, then /readyz polled every 5 ms until 200; wall time and the child's CPU time then.
    const timeReady = async (child: () => ChildProcess, port: number, what: string): Promise<{ ms: number; cpuMs: number; child: ChildProcess }> => {
      const started = performance.now();
      const spawned = child();
      children.add(spawned);
      await waitFor200(`http://127.0.0.1:${port}/readyz`, 10_000, what, 5);
      const ms = performance.now() - started;
      return { ms, cpuMs: cpuTimeMs(spawned.pid as number), child: spawned };
    };
    for (let i = 0; i < options.readyRuns; i++) {
      const last = i === options.readyRuns - 1;
      const helloPort = await freePort();
      const hello = await timeReady(() => startChild(floor.server, [String(helloPort)]), helloPort, "the hello-world server");
      helloServer = hello.child;
      helloReadyMs.push(hello.ms);
      helloReadyCpuMs.push(hello.cpuMs);
      if (!last) await stopChild(helloServer, children);
      const netPort = await freePort();
      const net = await timeReady(() => startChild(floor.serverNet, [String(netPort), controllerUrl, floorKeyFile, "bench-floor"]), netPort, "the hello-world server with a controller session");
      netReadyMs.push(net.ms);
      netReadyCpuMs.push(net.cpuMs);
      await stopChild(net.child, children);
      startedAt = performance.now();
      const run = await timeReady(() => startChild(binary, runArgs), statusPort, "the runner's /readyz");
      runner = run.child;
      readyMs.push(run.ms);
      readyCpuMs.push(run.cpuMs);
      if (!last) await stopChild(runner, children);
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
      readyCpuMs,
      idleRssBytes,
      rssWithWorkersBytes,
      workersSeen,
      perWorkerBytes: workersSeen > 0 ? (rssWithWorkersBytes - idleRssBytes) / workersSeen : Number.NaN,
      versionPeakRssBytes,
      floor: { versionMs: median(helloVersion), peakRssBytes: helloPeakRssBytes, readyMs: helloReadyMs, readyCpuMs: helloReadyCpuMs, netReadyMs, netReadyCpuMs, idleRssBytes: helloIdleRssBytes },
    };
  } finally {
    for (const child of [...children]) await stopChild(child, children);
    rmSync(dir, { recursive: true, force: true });
  }
}
