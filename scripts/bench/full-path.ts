// The full path in one process: the reference controller on a loopback port, a runner connected
// to it over a real WebSocket, and a plugin pool behind it, wired as `edge-runner run` wires them.
// The executor is wrapped so the bench sees when each job reaches the pool and logs its first line.

import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { Logger, LogRecord } from "../../src/log/logger.ts";
import type { PluginResolver } from "../../src/plugins/plugin-ref.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { Runner } from "../../src/runner/runner.ts";
import type { WorkerInfo } from "../../src/status/snapshot.ts";
import { benchLogger } from "./quiet-logger.ts";
import { OPTIONS } from "../../src/config/options.ts";

/** The runner's default `prefetch` (src/config/options.ts): the bench measures what `edge-runner run` does unless told. */
export const DEFAULT_PREFETCH = Number(OPTIONS.find((o) => o.name === "prefetch")?.default ?? 0);

export interface JobMarks {
  /** The runner handed the job to its executor (after offer → onJob → accept). */
  executeAt?: number;
  firstLogAt?: number;
}

/** A JobExecutor that times each job on its way through and tells waiters of its first log line. */
export class TimedExecutor implements JobExecutor {
  readonly marks = new Map<string, JobMarks>();
  /** Runs that ended, and how many of them did not succeed. */
  finished = 0;
  failed = 0;
  readonly #inner: JobExecutor;
  readonly #logWaiters = new Map<string, () => void>();
  readonly #countWaiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(inner: JobExecutor) {
    this.#inner = inner;
  }

  run(request: RunRequest): Promise<JobOutcome> {
    const marks: JobMarks = { executeAt: performance.now() };
    this.marks.set(request.jobId, marks);
    const outcome = this.#inner.run({
      ...request,
      onLog: (line) => {
        if (marks.firstLogAt === undefined) {
          marks.firstLogAt = performance.now();
          this.#logWaiters.get(request.jobId)?.();
          this.#logWaiters.delete(request.jobId);
        }
        request.onLog(line);
      },
    });
    return outcome.then((result) => {
      this.finished++;
      if (result.status !== "succeeded") this.failed++;
      for (const waiter of this.#countWaiters.filter((w) => w.count <= this.finished)) {
        this.#countWaiters.splice(this.#countWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      return result;
    });
  }

  /** Resolves when `jobId`'s first log line reached the runner. */
  firstLog(jobId: string): Promise<void> {
    if (this.marks.get(jobId)?.firstLogAt !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#logWaiters.set(jobId, resolve));
  }

  /** Resolves once `count` runs have ended. */
  whenFinished(count: number): Promise<void> {
    if (this.finished >= count) return Promise.resolve();
    return new Promise((resolve) => this.#countWaiters.push({ count, resolve }));
  }

  workers(): WorkerInfo[] {
    return this.#inner.workers();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

export interface BenchRunnerOptions {
  controllerUrl: string;
  apiKey: string;
  concurrency: number;
  /** Offered jobs held beyond concurrency (local prefetch); default: the `prefetch` option's default, as `edge-runner run` has it. */
  prefetch?: number;
  logger: Logger;
  /** Where the pool finds plugins beyond the built-ins (section 8: clock-bundle.ts). */
  resolve?: PluginResolver;
}

export interface BenchRunner {
  runner: Runner;
  connection: EdgeConnection;
  executor: TimedExecutor;
}

/** A runner wired like `edge-runner run` (runner-service.ts) minus the status server; not started. */
export function createBenchRunner(options: BenchRunnerOptions): BenchRunner {
  const { logger } = options;
  const pool = new PluginPool({ idleMs: 600_000, maxWorkersPerPlugin: options.concurrency, logger, ...(options.resolve === undefined ? {} : { resolve: options.resolve }) });
  const executor = new TimedExecutor(pool);
  let runner: Runner | undefined;
  const connection = new EdgeConnection({
    controllerUrl: options.controllerUrl,
    runnerId: "bench",
    group: "default",
    apiKey: options.apiKey,
    version: "bench",
    transport: "websocket",
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    startJitterMs: 0,
    logger,
    onTick: (loop, maxSilenceMs) => runner?.loops.tick(loop, maxSilenceMs),
  });
  runner = new Runner({
    runnerId: "bench",
    group: "default",
    controllerUrl: options.controllerUrl,
    concurrency: options.concurrency,
    prefetch: options.prefetch ?? DEFAULT_PREFETCH,
    jobTimeoutMs: 30_000,
    drainTimeoutMs: 10_000,
    connection,
    executor,
    logger,
    flushTimeoutMs: 5000,
  });
  return { runner, connection, executor };
}

export async function waitConnected(connection: EdgeConnection, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (connection.status().state !== "connected") {
    if (Date.now() > deadline) throw new Error(`Cannot start the bench runner: it did not connect (${connection.status().lastError ?? "no error"})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface FullPathOptions {
  concurrency: number;
  /** Parent of the controller's data directory: a disk (real fsync) or tmpfs (fsync ~free). */
  parentDir: string;
}

export interface FullPath extends BenchRunner {
  controller: ReferenceController;
  /** Warnings and errors logged by controller and runner (nothing should be lost or refused). */
  problems: LogRecord[];
  close(): Promise<void>;
}

/** Controller and connected runner in this process. */
export async function startFullPath(options: FullPathOptions): Promise<FullPath> {
  const dataDir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-"));
  const { logger, problems } = benchLogger();
  const controller = await ReferenceController.start({ dataDir, port: 0, logger, leaseTtlMs: 30_000, heartbeatIntervalMs: 10_000 });
  const { apiKey } = await controller.registerRunner({ id: "bench", group: "default" });
  const bench = createBenchRunner({ controllerUrl: controller.url, apiKey, concurrency: options.concurrency, logger });
  bench.runner.start();
  await waitConnected(bench.connection);
  return {
    ...bench,
    controller,
    problems,
    async close() {
      await bench.runner.drain("bench done");
      await controller.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
