// The runner: owns the lifecycle, the controller connection, the job executor and the slots.
// First stop request drains (no new jobs, held ones given back, running ones may finish within
// the drain timeout, the rest are reported interrupted); a second one interrupts at once.

import type { ConnectionStatus, ControllerConnection, JobHandle } from "../controller/connection.ts";
import type { Logger } from "../log/logger.ts";
import { redactor } from "../log/redact.ts";
import type { RecentResultInfo, RunnerSnapshot, RunningJobInfo } from "./runner-snapshot.ts";
import type { JobResult } from "../protocol/edge-v1.ts";
import { LocalQueue } from "./local-queue.ts";
import { COMMIT, VERSION } from "../version.ts";
import { runtime } from "../platform/runtime.ts";
import { realTimers, type Timers } from "../util/time.ts";
import type { JobExecutor } from "./job-executor.ts";
import { INTERRUPTED, runJob } from "./job-runner.ts";
import { Lifecycle } from "./lifecycle.ts";
import { LoopMonitor } from "./loop-monitor.ts";
import { errorMessage } from "../errors.ts";

/** What the runner reports into; the status endpoint's RunnerMetrics implements it. */
export interface RunnerMetricsSink {
  jobFinished(result: string, durationMs: number): void;
  jobRejected(): void;
}

export interface RunnerOptions {
  runnerId: string;
  group: string;
  controllerUrl: string;
  concurrency: number;
  /** Offered jobs held beyond `concurrency` to start as slots free (local prefetch); 0 or absent: none. */
  prefetch?: number;
  /** Longest a job is held before it goes back to the controller (default 1 s). */
  prefetchHoldMs?: number;
  jobTimeoutMs: number;
  drainTimeoutMs: number;
  connection: ControllerConnection;
  executor: JobExecutor;
  logger: Logger;
  metrics?: RunnerMetricsSink;
  timers?: Pick<Timers, "now" | "sleep"> & Partial<Pick<Timers, "setTimeout" | "clearTimeout">>;
  /** How long, after jobs end, results may take to reach the controller before we stop anyway. */
  flushTimeoutMs?: number;
}

const RECENT_RESULTS = 20;
/** Why offers are taken only for free slots although `prefetch` is set (the log, /status). */
const PREFETCH_OFF = "Local prefetch is off: the controller does not list the release feature in its session answer (one that predates it would ignore a release), so the runner takes offers only for free slots";

export class Runner {
  readonly lifecycle: Lifecycle;
  readonly loops: LoopMonitor;
  readonly #o: RunnerOptions;
  readonly #timers: Pick<Timers, "now" | "sleep">;
  readonly #log: Logger;
  readonly #startedAt: number;
  readonly #running = new Map<string, { info: RunningJobInfo; done: Promise<void> }>();
  readonly #recent: RecentResultInfo[] = [];
  readonly #stopConnection = new AbortController();
  readonly #interrupt = new AbortController();
  /** Held offers (local prefetch); undefined when off, or when the adapter cannot give a job back. */
  readonly #held: LocalQueue | undefined;
  readonly #prefetch: number;
  #connectionDone: Promise<void> = Promise.resolve();
  /** What the log last said about the controller and `release` (said once per change). */
  #releasesSaid: boolean | undefined;
  #drained: Promise<void> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(options: RunnerOptions) {
    this.#o = options;
    this.#timers = options.timers ?? realTimers;
    this.#log = options.logger.child({ component: "runner" });
    this.lifecycle = new Lifecycle({ logger: this.#log, now: this.#timers.now });
    this.loops = new LoopMonitor(this.#timers.now);
    this.#startedAt = this.#timers.now();
    const prefetch = options.connection.canRelease === true ? options.prefetch ?? 0 : 0;
    this.#prefetch = prefetch;
    if (prefetch > 0) {
      const timers = options.timers;
      this.#held = new LocalQueue({
        capacity: prefetch,
        holdMs: options.prefetchHoldMs ?? 1000,
        timers: { now: this.#timers.now, setTimeout: timers?.setTimeout ?? realTimers.setTimeout, clearTimeout: timers?.clearTimeout ?? realTimers.clearTimeout },
        onOverdue: (handles) => this.#giveBack(handles, `not started within ${options.prefetchHoldMs ?? 1000} ms`),
        onAborted: (handle) => this.#dropHeld(handle),
        canGiveBack: () => this.#releases(),
      });
    }
  }

  /** Starts connecting and taking jobs; returns at once. */
  start(): void {
    this.loops.tick("event-loop", 10_000);
    // A cheap interval that proves the event loop is not blocked; /healthz reads it.
    this.#ticker = setInterval(() => this.loops.tick("event-loop", 10_000), 1000);
    (this.#ticker as { unref?: () => void }).unref?.();
    this.lifecycle.transition("connecting");
    // The one way the lifecycle follows the connection: its state changes (ready while connected).
    this.#o.connection.onStateChange((status) => this.#follow(status));
    this.#grant();
    this.#connectionDone = this.#o.connection
      .run({ signal: this.#stopConnection.signal, onJob: (handle) => this.#onJob(handle) })
      .catch((error: unknown) => {
        this.#log.error(`Controller connection failed: ${errorMessage(error)}`);
        if (this.lifecycle.canTransition("failed")) this.lifecycle.transition("failed", errorMessage(error));
      });
    this.#follow(this.#o.connection.status());
  }

  /** Number of jobs running now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * First stop request: take no new jobs, let running ones finish within the drain timeout,
   * interrupt the rest, deliver every result, then stop. Idempotent.
   */
  drain(reason = "stop requested"): Promise<void> {
    this.#drained ??= this.#drain(reason);
    return this.#drained;
  }

  /** Second stop request: interrupt running jobs now, report them, stop. */
  interruptNow(): Promise<void> {
    this.#log.warn(`Interrupting ${this.#running.size} running job(s) now`);
    if (!this.#interrupt.signal.aborted) this.#interrupt.abort(INTERRUPTED);
    return this.drain("interrupted");
  }

  async #drain(reason: string): Promise<void> {
    if (this.lifecycle.canTransition("draining")) this.lifecycle.transition("draining", reason);
    this.#o.connection.setFreeSlots(0);
    // Held jobs never started: back to the controller's queue now, no attempt used.
    this.#giveBack(this.#held?.takeAll() ?? [], "the runner is draining");
    const deadline = this.#timers.now() + this.#o.drainTimeoutMs;
    if (this.#running.size > 0) {
      this.#log.info(`Draining: waiting up to ${this.#o.drainTimeoutMs} ms for ${this.#running.size} running job(s)`);
    }
    const giveUp = new AbortController();
    const timer = this.#timers.sleep(Math.max(0, deadline - this.#timers.now()), giveUp.signal).then(() => "timeout" as const);
    const allDone = this.#allDone().then(() => "done" as const);
    const first = await Promise.race([timer, allDone, this.#interruptedPromise()]);
    if (first !== "done" && this.#running.size > 0) {
      this.#log.warn(`Drain timeout: interrupting ${this.#running.size} job(s) that did not finish`);
      if (!this.#interrupt.signal.aborted) this.#interrupt.abort(INTERRUPTED);
      await this.#allDone();
    }
    giveUp.abort();
    // Results and log lines must reach the controller before we hang up.
    const flushTimeout = AbortSignal.timeout(this.#o.flushTimeoutMs ?? 10_000);
    await this.#o.connection.flush(flushTimeout);
    if (flushTimeout.aborted) this.#log.warn("Stopping with results the controller has not acknowledged; they are kept in the data directory and sent after the next start");
    this.#stopConnection.abort();
    await this.#connectionDone;
    await this.#o.executor.close();
    this.#held?.close();
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    if (this.lifecycle.canTransition("stopped")) this.lifecycle.transition("stopped");
  }

  #interruptedPromise(): Promise<"interrupted"> {
    const signal = this.#interrupt.signal;
    if (signal.aborted) return Promise.resolve("interrupted");
    return new Promise((resolve) => signal.addEventListener("abort", () => resolve("interrupted"), { once: true }));
  }

  async #allDone(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  #taking(): boolean {
    const state = this.lifecycle.state;
    return state !== "draining" && state !== "stopped" && state !== "failed";
  }

  /** Free slots, not counting held jobs' (the status page's "free"). */
  #free(): number {
    return this.#taking() ? Math.max(0, this.#o.concurrency - this.#running.size) : 0;
  }

  /**
   * Tells the connection the credit to grant (docs/protocol.md, "credit"): free slots, and room
   * to hold less what is held, which it grants only where the controller takes held jobs back.
   */
  #grant(): void {
    if (!this.#taking()) return this.#o.connection.setFreeSlots(0);
    const free = this.#o.concurrency - this.#running.size;
    const total = Math.max(0, free + (this.#held === undefined ? 0 : this.#held.room() - this.#held.size));
    const slots = Math.min(Math.max(0, free), total);
    this.#o.connection.setFreeSlots(slots, total - slots);
  }

  /** The controller of the session takes held jobs back (it listed `release`): only then are offers held. */
  #releases(): boolean {
    return this.#o.connection.releases?.() === true;
  }

  #onJob(handle: JobHandle): void {
    const draining = !this.#taking();
    const held = this.#held?.size ?? 0;
    if (!draining && this.#running.size < this.#o.concurrency && held === 0) return this.#start(handle);
    // Offered on credit granted for holding (or, unexpectedly, while older held jobs wait: they
    // go first): held until a slot frees, where the controller would take it back.
    if (!draining && this.#held !== undefined && held < this.#prefetch && this.#releases()) {
      this.#held.hold(handle);
      return this.#slotFreed();
    }
    // Sent before the drain's credit reset reached the controller: never started, so given back
    // without using up an attempt where the controller can take it back.
    if (draining) return this.#giveBack([handle], "the runner is draining");
    this.#refuse(handle, "no_free_slot", "The runner has no free slot");
  }

  #refuse(handle: JobHandle, code: string, message: string): void {
    this.#o.metrics?.jobRejected();
    handle.reject({ code, message });
  }

  /** A slot freed: start held jobs in offer order while slots are free, then grant credit. */
  #slotFreed(): void {
    while (this.#taking() && this.#running.size < this.#o.concurrency) {
      const next = this.#held?.take();
      if (next === undefined) break;
      this.#start(next);
    }
    this.#grant();
  }

  /**
   * Held jobs go back unstarted: credit shrinks first, so the controller does not offer them here
   * again. Only past the hold bound and at drain: a job held past the bound for a controller that
   * does not take it back stays held (local-queue.ts), so only a drain gets here then.
   */
  #giveBack(handles: JobHandle[], why: string): void {
    if (handles.length === 0) return;
    this.#grant();
    const releases = this.#releases();
    for (const handle of handles) {
      // A controller that would ignore a `release` (the job would wait for its lease to expire)
      // gets a reject: the job goes back at once, with the attempt used.
      if (!releases || handle.release === undefined) {
        this.#refuse(handle, "runner_draining", "The runner is draining and takes no new jobs");
        continue;
      }
      this.#log.debug(`Giving back a held job unstarted: ${why}`, { jobId: handle.job.id, attempt: handle.job.attempt });
      handle.release();
    }
  }

  /** A held job was cancelled (or its lease lost) before it started: reported cancelled, never run. */
  #dropHeld(handle: JobHandle): void {
    const { job } = handle;
    const now = this.#timers.now();
    const reason = String(handle.signal.reason ?? "cancelled");
    const result: JobResult = { status: "cancelled", startedAt: now, finishedAt: now, error: { code: "job_cancelled", message: `Job "${job.id}" cancelled before it started: ${reason}` } };
    void handle.complete(result);
    this.#o.metrics?.jobFinished("cancelled", 0);
    this.#remember({ jobId: job.id, attempt: job.attempt, plugin: job.plugin, status: "cancelled", durationMs: 0, finishedAt: now, errorCode: "job_cancelled", errorMessage: result.error!.message });
    this.#grant();
  }

  #remember(recent: RecentResultInfo): void {
    this.#recent.unshift(recent);
    this.#recent.length = Math.min(this.#recent.length, RECENT_RESULTS);
  }

  #start(handle: JobHandle): void {
    const { job } = handle;
    const info: RunningJobInfo = { jobId: job.id, attempt: job.attempt, plugin: job.plugin, action: job.action, startedAt: this.#timers.now() };
    const key = `${job.id}#${job.attempt}`;
    const log = this.#log.child({ jobId: job.id, attempt: job.attempt, plugin: job.plugin });
    // Debug: "Job <status>" at the end carries the duration, and /status lists running jobs;
    // a second formatted and redacted line per job was ~7 % of the runner's main thread (issue 15).
    log.debug(`Job started`);
    // The job's own redaction scope: its secrets are masked while it runs and dropped after, so
    // the cost of redacting a line does not grow with the secrets of finished jobs. An adapter
    // that already holds the job's secrets gives its own scope and ends it itself.
    const redaction = handle.redaction ?? redactor.child(`job ${key}`);
    const ownScope = redaction !== handle.redaction;
    const done = (async () => {
      const result = await runJob(handle, {
        executor: this.#o.executor,
        defaultTimeoutMs: this.#o.jobTimeoutMs,
        interrupt: this.#interrupt.signal,
        redaction,
        now: this.#timers.now,
      });
      if (ownScope) redaction.dispose();
      // The result goes out first, then the freed slot's credit (docs/protocol.md, "credit").
      // The job is done once its result is handed over: the controller's answer may never come
      // (an outage), and a drain bounds that wait itself (connection.flush, then the spool).
      const answered = handle.complete(result);
      void answered.then(
        (answer) => {
          if (!answer.accepted) log.warn(`Result of job not recorded by the controller: ${answer.reason ?? "refused"}`);
        },
        (error: unknown) => log.error(`Result of job not delivered: ${errorMessage(error)}`),
      );
      this.#running.delete(key);
      this.#held?.ended();
      this.#slotFreed();
      const durationMs = result.finishedAt - result.startedAt;
      this.#o.metrics?.jobFinished(result.status, durationMs);
      const recent: RecentResultInfo = { jobId: job.id, attempt: job.attempt, plugin: job.plugin, status: result.status, durationMs, finishedAt: result.finishedAt };
      if (result.error !== undefined) {
        recent.errorCode = result.error.code;
        recent.errorMessage = result.error.message;
      }
      this.#remember(recent);
      log.info(`Job ${result.status}`, { durationMs, ...(result.error ? { errorCode: result.error.code } : {}) });
    })().catch((error: unknown) => {
      // runJob never throws; this is the last line of defence so a bug cannot kill the runner.
      if (ownScope) redaction.dispose();
      this.#running.delete(key);
      log.error(`Job runner failed unexpectedly: ${errorMessage(error)}`);
      this.#slotFreed();
    });
    this.#running.set(key, { info, done });
    this.#grant();
  }

  /** Keeps the lifecycle in step with the connection: ready while connected. */
  #follow(status: ConnectionStatus): void {
    const connected = status.state === "connected";
    const state = this.lifecycle.state;
    if (connected && state === "connecting") this.lifecycle.transition("ready", `connected over ${status.transport ?? "?"}`);
    else if (!connected && state === "ready") this.lifecycle.transition("connecting", status.lastError);
    if (connected) this.#sayPrefetch();
  }

  /** Says in the log, once each time it changes, whether the controller lets local prefetch hold jobs. */
  #sayPrefetch(): void {
    const releases = this.#o.connection.releases?.();
    if (this.#held === undefined || releases === undefined || releases === this.#releasesSaid) return;
    // The first session with a controller that takes jobs back is the normal case: nothing to say.
    if (!releases || this.#releasesSaid !== undefined) this.#log.info(releases ? "The controller lists the release feature: local prefetch is on again" : PREFETCH_OFF);
    this.#releasesSaid = releases;
  }

  snapshot(): RunnerSnapshot {
    return {
      runnerId: this.#o.runnerId,
      group: this.#o.group,
      version: VERSION,
      commit: COMMIT,
      runtime,
      pid: process.pid,
      startedAt: this.#startedAt,
      state: this.lifecycle.state,
      stateSince: this.lifecycle.since,
      connection: this.#o.connection.status(),
      // The current one of a list of replicas, as the connection reports it.
      controllerUrl: this.#o.connection.status().controller?.url ?? this.#o.controllerUrl,
      concurrency: this.#o.concurrency,
      freeSlots: this.#free(),
      prefetch: this.#prefetch,
      ...(this.#held !== undefined && this.#o.connection.releases?.() === false ? { prefetchOff: PREFETCH_OFF } : {}),
      running: [...this.#running.values()].map((r) => ({ ...r.info })),
      held: this.#held?.list() ?? [],
      recent: this.#recent.map((r) => ({ ...r })),
      workers: this.#o.executor.workers(),
      loops: this.loops.list(),
      now: this.#timers.now(),
    };
  }
}
