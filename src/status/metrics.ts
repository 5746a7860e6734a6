// The runner's Prometheus series: counters the runner increments as things happen, and gauges
// read from the snapshot at scrape time so they can never disagree with /status.

import type { ConnectionState } from "../controller/connection.ts";
import type { JobStatus } from "../protocol/edge-v1.ts";
import { BUNDLE_ERROR_CODES } from "../plugin-bundles/bundle-errors.ts";
import { Registry, type Counter, type Gauge, type Histogram } from "./prometheus.ts";
import type { RunnerSnapshot, WorkerInfo } from "./snapshot.ts";

/** What `edge_runner_jobs_total{result}` counts: a finished job's status, or a rejected offer. */
export type JobOutcome = JobStatus | "rejected";

export const JOB_OUTCOMES = ["succeeded", "failed", "cancelled", "timed_out", "interrupted", "rejected"] as const satisfies readonly JobOutcome[];
const FINISHED = JOB_OUTCOMES.filter((o) => o !== "rejected");
export const CONNECTION_STATES = ["idle", "connecting", "connected", "backoff", "unauthorized", "closed"] as const satisfies readonly ConnectionState[];
const WORKER_STATES = ["starting", "idle", "busy", "stopping"] as const satisfies readonly WorkerInfo["state"][];

// Compile-time guard: adding a connection or worker state without listing it here fails `tsc`.
const everyConnectionState: [Exclude<ConnectionState, (typeof CONNECTION_STATES)[number]>] extends [never] ? true : false = true;
const everyWorkerState: [Exclude<WorkerInfo["state"], (typeof WORKER_STATES)[number]>] extends [never] ? true : false = true;
void everyConnectionState;
void everyWorkerState;

/** 1 ms to 1 h: plugin jobs range from an HTTP call to a Terraform apply. */
export const JOB_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600] as const;

export interface RunnerMetricsOptions {
  /** Resident set size in bytes; injected for tests. */
  residentMemoryBytes?: () => number;
  /** Epoch ms the process started; defaults to `performance.timeOrigin`. */
  processStartMs?: number;
}

export class RunnerMetrics {
  readonly #registry = new Registry();
  readonly #rss: () => number;
  readonly #processStartMs: number;
  readonly #jobs: Counter;
  readonly #duration: Histogram;
  readonly #running: Gauge;
  readonly #held: Gauge;
  readonly #connection: Gauge;
  readonly #reconnects: Counter;
  readonly #connectFailures: Counter;
  readonly #protocolErrors: Counter;
  readonly #logLinesDropped: Counter;
  readonly #workers: Gauge;
  readonly #bundleRefusals: Counter;
  readonly #info: Gauge;
  readonly #up: Gauge;
  readonly #insecure: Gauge;
  readonly #memory: Gauge;
  readonly #start: Gauge;

  constructor(options: RunnerMetricsOptions = {}) {
    this.#rss = options.residentMemoryBytes ?? defaultRss;
    this.#processStartMs = options.processStartMs ?? performance.timeOrigin;
    const r = this.#registry;
    this.#up = r.gauge({ name: "edge_runner_up", help: "1 while the runner process answers scrapes." });
    this.#insecure = r.gauge({ name: "edge_runner_insecure", help: "1 when the runner was started with --insecure (plain http/ws to a non-loopback controller allowed)." });
    this.#info = r.gauge({ name: "edge_runner_info", help: "Build information; always 1.", labelNames: ["version", "commit", "runtime"] });
    this.#connection = r.gauge({ name: "edge_runner_connection_state", help: "1 for the current controller connection state, 0 for the others.", labelNames: ["state"] });
    this.#reconnects = r.counter({ name: "edge_runner_reconnects_total", help: "New controller sessions after a lost one (a first connection and failed attempts do not count)." });
    this.#connectFailures = r.counter({ name: "edge_runner_connect_failures_total", help: "Attempts to open a controller session that failed (unreachable, refused, unauthorized)." });
    this.#protocolErrors = r.counter({ name: "edge_runner_protocol_errors_total", help: "Malformed frames received from the controller and rejected." });
    this.#logLinesDropped = r.counter({ name: "edge_runner_log_lines_dropped_total", help: "Job log lines dropped because the controller did not take them as fast as plugins wrote them (each job's log says how many)." });
    this.#jobs = r.counter({ name: "edge_runner_jobs_total", help: "Jobs finished, by result; rejected counts offers refused before running.", labelNames: ["result"] });
    this.#duration = r.histogram({ name: "edge_runner_job_duration_seconds", help: "Time from a job's start to its result.", buckets: JOB_DURATION_BUCKETS });
    this.#running = r.gauge({ name: "edge_runner_jobs_running", help: "Jobs running now." });
    this.#held = r.gauge({ name: "edge_runner_jobs_held", help: "Offered jobs held to start as slots free (local prefetch)." });
    this.#workers = r.gauge({ name: "edge_runner_plugin_workers", help: "Plugin worker threads, by plugin and state.", labelNames: ["plugin", "state"] });
    this.#bundleRefusals = r.counter({ name: "edge_runner_plugin_bundle_refusals_total", help: "Plugin bundles refused (never run), by error code.", labelNames: ["code"] });
    this.#memory = r.gauge({ name: "process_resident_memory_bytes", help: "Resident memory size in bytes." });
    this.#start = r.gauge({ name: "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds." });
    for (const result of JOB_OUTCOMES) this.#jobs.init({ result });
    for (const code of BUNDLE_ERROR_CODES) this.#bundleRefusals.init({ code });
    this.#reconnects.init();
    this.#connectFailures.init();
    this.#protocolErrors.init();
    this.#logLinesDropped.init();
  }

  /** Records a finished job; `durationMs` is from start to result. */
  jobFinished(result: JobStatus, durationMs: number): void {
    if (!(FINISHED as readonly string[]).includes(result)) {
      throw new RangeError(`Cannot record job result "${String(result)}": unknown result`);
    }
    this.#jobs.inc({ result });
    this.#duration.observe({}, Math.max(0, durationMs) / 1000);
  }

  /** Records an offer refused before running (draining, unknown plugin). */
  jobRejected(): void {
    this.#jobs.inc({ result: "rejected" });
  }

  /** Records a plugin bundle that was refused (bad signature, unknown key, altered…); `code` is its bundle_* code. */
  bundleRefused(code: string): void {
    this.#bundleRefusals.inc({ code });
  }

  reconnected(): void {
    this.#reconnects.inc();
  }

  connectFailed(): void {
    this.#connectFailures.inc();
  }

  protocolError(): void {
    this.#protocolErrors.inc();
  }

  logLinesDropped(lines: number): void {
    this.#logLinesDropped.inc({}, lines);
  }

  /** Renders every series; snapshot-backed gauges are rebuilt from `snapshot` first. */
  expose(snapshot: RunnerSnapshot): string {
    this.#up.set({}, 1);
    this.#insecure.set({}, snapshot.insecure === true ? 1 : 0);
    this.#info.reset();
    this.#info.set({ version: snapshot.version, commit: snapshot.commit, runtime: snapshot.runtime }, 1);
    for (const state of CONNECTION_STATES) this.#connection.set({ state }, snapshot.connection.state === state ? 1 : 0);
    this.#running.set({}, snapshot.running.length);
    this.#held.set({}, snapshot.held.length);
    this.#workers.reset();
    const plugins = [...new Set(snapshot.workers.map((w) => w.plugin))].sort();
    for (const plugin of plugins) {
      // Every state per plugin, zeros included, so a series does not vanish when a worker changes state.
      for (const state of WORKER_STATES) this.#workers.set({ plugin, state }, 0);
    }
    for (const worker of snapshot.workers) this.#workers.inc({ plugin: worker.plugin, state: worker.state });
    this.#memory.set({}, this.#rss());
    this.#start.set({}, Math.floor(this.#processStartMs / 1000));
    return this.#registry.expose();
  }
}

function defaultRss(): number {
  const usage = process.memoryUsage as unknown as { rss?: () => number } & (() => { rss: number });
  return typeof usage.rss === "function" ? usage.rss() : usage().rss;
}
