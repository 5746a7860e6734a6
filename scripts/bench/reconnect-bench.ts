// Section 9, reconnection after a controller restart: 100 runners' edge connections (the real
// EdgeConnection, with the option table's default backoff and start jitter, in this process to
// spare 100 × 50 MiB of runner processes) connected to the compiled `edge-runner controller`,
// which is SIGKILLed and started again on the same port and data directory. Beside it, the same
// with the jitter taken out (every runner waits its full backoff ceiling): the herd it prevents.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { parseDuration } from "../../src/config/duration.ts";
import { OPTIONS, type OptionSpec } from "../../src/config/options.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import { adminApi, startController } from "./fleet-bench.ts";
import { freePort, stopChild } from "./processes.ts";
import { benchLogger } from "./quiet-logger.ts";
import { quantile } from "./stats.ts";

export interface ReconnectOptions {
  binary: string;
  parentDir: string;
  runners: number;
  /** false: every backoff wait is its ceiling (no jitter), the thundering-herd floor. */
  jitter: boolean;
  /** Histogram bucket width. */
  bucketMs: number;
}

export interface ReconnectResult {
  runners: number;
  jitter: boolean;
  /** Controller killed → answering /health again. */
  downtimeMs: number;
  /** Controller answering again → each runner's session open, sorted. */
  reconnectMs: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * Sessions opened per bucket, counted from the SIGKILL (when every runner lost its session at
   * once), so the buckets before `downtimeMs` hold the attempts' wait and the spread is all in
   * view; the most in one bucket.
   */
  histogram: number[];
  peakPerBucket: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Connection attempts that failed while the controller was down or starting (load on it). */
  failedAttempts: number;
}

function defaultMs(name: string): number {
  const spec: OptionSpec | undefined = OPTIONS.find((o) => o.name === name);
  const value = parseDuration(String(spec?.default));
  if (value === undefined) throw new Error(`Cannot read the default of option "${name}"`);
  return value;
}

export async function reconnectAfterRestart(options: ReconnectOptions): Promise<ReconnectResult> {
  const dir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-reconnect-"));
  const children = new Set<ChildProcess>();
  const stop = new AbortController();
  const runs: Promise<void>[] = [];
  const reconnectMinMs = defaultMs("reconnectMinMs");
  const reconnectMaxMs = defaultMs("reconnectMaxMs");
  try {
    const port = await freePort();
    let controller = await startController(options.binary, dir, children, port);
    const api = adminApi(controller.url, controller.token);
    const connectedAt: number[] = new Array(options.runners).fill(Number.NaN);
    let restarted = false;
    let failedAttempts = 0;
    const { logger } = benchLogger();
    for (let i = 0; i < options.runners; i++) {
      const id = `herd-${i}`;
      const { apiKey } = await api.registerRunner(id);
      const connection = new EdgeConnection({
        controllerUrl: controller.url,
        runnerId: id,
        group: "default",
        apiKey,
        version: "bench",
        transport: "websocket",
        reconnectMinMs,
        reconnectMaxMs,
        startJitterMs: 0,
        logger,
        onConnectFailure: () => {
          if (restarted) failedAttempts++;
        },
        ...(options.jitter ? {} : { random: () => 0.999 }),
      });
      connection.onStateChange((status) => {
        if (restarted && status.state === "connected" && Number.isNaN(connectedAt[i] as number)) connectedAt[i] = performance.now();
      });
      connection.setFreeSlots(4);
      runs.push(connection.run({ signal: stop.signal, onJob: () => {} }));
    }
    await api.waitSessions(options.runners, 60_000);

    const killedAt = performance.now();
    const exited = new Promise<void>((resolve) => controller.child.once("exit", () => resolve()));
    children.delete(controller.child);
    restarted = true;
    controller.child.kill("SIGKILL");
    await exited;
    controller = await startController(options.binary, dir, children, port);
    const upAt = performance.now();
    const deadline = upAt + 4 * reconnectMaxMs;
    while (connectedAt.some((t) => Number.isNaN(t))) {
      if (performance.now() > deadline) throw new Error(`Cannot finish the reconnect bench: ${connectedAt.filter((t) => Number.isNaN(t)).length} runner(s) never reconnected`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const reconnectMs = connectedAt.map((t) => Math.max(0, t - upAt)).sort((a, b) => a - b);
    const histogram: number[] = [];
    for (const t of connectedAt) {
      const bucket = Math.floor((t - killedAt) / options.bucketMs);
      while (histogram.length <= bucket) histogram.push(0);
      histogram[bucket] = (histogram[bucket] as number) + 1;
    }
    return {
      runners: options.runners,
      jitter: options.jitter,
      downtimeMs: upAt - killedAt,
      reconnectMs,
      p50Ms: quantile(reconnectMs, 0.5),
      p99Ms: quantile(reconnectMs, 0.99),
      maxMs: reconnectMs.at(-1) as number,
      peakPerBucket: Math.max(...histogram),
      histogram,
      reconnectMinMs,
      reconnectMaxMs,
      failedAttempts,
    };
  } finally {
    stop.abort();
    await Promise.allSettled(runs);
    await Promise.all([...children].map((child) => stopChild(child, children)));
    rmSync(dir, { recursive: true, force: true });
  }
}
