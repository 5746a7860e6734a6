// The plugin worker pool: reuses a warm worker per plugin, starts one when none is free (up to the
// plugin's policy, queueing beyond it), enforces each job's timeout, cancellation and the runner's
// interrupt, answers the plugin's secret and storage calls, and turns every fault into a
// JobOutcome, its text bounded by job-text.ts. `run()` never rejects.

import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeError, serializeError } from "../errors.ts";
import { LocalObjectStore } from "../storage/local-store.ts";
import { StorageService } from "../storage/storage-service.ts";
import { redactor } from "../log/redact.ts";
import type { Logger } from "../log/logger.ts";
import type { JobOutcome, WireError } from "../protocol/edge-v1.ts";
import type { WorkerInfo } from "./worker-state.ts";
import { builtinOnlyResolver, builtinSource, parsePluginRef, sourceKey, sourceLabel, type PluginResolver } from "./plugin-ref.ts";
import { positive, type PluginPoolOptions, type RunRequest } from "./pool-options.ts";
import { PoolPolicy, type PluginPolicy } from "./pool-policy.ts";
import { stopRunProcesses } from "./processes/process-group.ts";
import { startPluginThread } from "./plugin-thread-start.ts";
import { boundOutcome } from "./job-text.ts";
import { abortReason, endedOutcome, type Ending } from "./run-outcome.ts";
import { MAX_TIMER_MS, realTimers, type Timers } from "../util/time.ts";
import type { Group, Task } from "./pool-task.ts";
import { guarded } from "./pool-guard.ts";
import { startTask } from "./pool-task-start.ts";
import { StrayOutput } from "./stray-output.ts";
import { WorkerHost } from "./worker-host.ts";
import { busyWorkerFor, recordRun, STALL_MS } from "./pool-pipeline.ts";
import { rateHoldMemory } from "./rate-holds.ts";
import type { PluginSource } from "./worker-protocol.ts";

export type { PluginPoolOptions, RunRequest } from "./pool-options.ts";


export class PluginPool {
  readonly #policy: PoolPolicy;
  readonly #storage: StorageService;
  readonly #graceMs: number;
  readonly #options: PluginPoolOptions;
  readonly #log: Logger;
  readonly #timers: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  readonly #resolve: PluginResolver;
  readonly #groups = new Map<string, Group>();
  readonly #tasks = new Set<Task>();
  readonly #idleTimers = new Map<WorkerHost, unknown>();
  /** API rate-limit holds shared by every built-in plugin thread of this runner (rate-holds.ts). */
  readonly #rateHolds = rateHoldMemory();
  #nextWorkerId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: PluginPoolOptions) {
    this.#options = options;
    this.#policy = options.policy ?? new PoolPolicy({
      maxWorkers: positive(options.maxWorkersPerPlugin ?? 4, "maxWorkersPerPlugin"),
      maxJobsPerWorker: positive(options.maxJobsPerWorker ?? 1000, "maxJobsPerWorker"),
      idleMs: options.idleMs,
      prewarm: 0,
      isolation: "thread",
      ...(options.maxWorkerHeapMb === undefined ? {} : { memoryCeilingMb: options.maxWorkerHeapMb }),
    });
    this.#storage = options.storage ?? new StorageService({
      store: new LocalObjectStore(join(tmpdir(), "edge-runner-storage", String(process.pid))),
      runnerId: "pool",
      limits: { maxObjectBytes: 2 * 1024 ** 3, maxJobBytes: 10 * 1024 ** 3 },
      logger: options.logger,
      sweepGraceMs: 0,
      sweepIntervalMs: 0,
    });
    this.#graceMs = options.cancelGraceMs ?? 2000;
    this.#log = options.logger.child({ component: "plugin-pool" });
    this.#timers = options.timers ?? realTimers;
    this.#resolve = options.resolve ?? builtinOnlyResolver;
  }

  run(request: RunRequest): Promise<JobOutcome> {
    return new Promise<JobOutcome>((resolve) => {
      try {
        this.#start(request, resolve);
      } catch (error) {
        resolve({ status: "failed", error: serializeError(error) });
      }
    });
  }

  workers(): WorkerInfo[] {
    const out: WorkerInfo[] = [];
    for (const group of this.#groups.values()) for (const host of group.hosts) out.push(host.info());
    return out;
  }

  /** Starts workers for `plugin` until `count` live (at most its maxWorkers); rejects with an EdgeError when it cannot load. */
  async prewarm(plugin: string, count = 1): Promise<void> {
    if (this.#closing !== undefined) throw new EdgeError("internal", `Cannot prewarm plugin "${plugin}": the plugin pool is closed`);
    const ref = parsePluginRef(plugin);
    const source = builtinSource(ref) ?? (await this.#resolve(ref, new AbortController().signal));
    const group = this.#group(source);
    const live = [...group.hosts].filter((h) => h.state !== "stopping");
    while (live.length < Math.min(count, group.policy.maxWorkers)) {
      const host = this.#spawn(group);
      if (host === undefined) throw new EdgeError("plugin_crashed", `Cannot prewarm plugin "${plugin}": its worker did not start`);
      live.push(host);
    }
    await Promise.all(live.map((h) => h.ready()));
  }

  /** Prewarms every plugin the policy names with a `prewarm` count; failures are logged, not thrown. */
  async prewarmAll(): Promise<void> {
    await Promise.all(this.#policy.prewarmList().map(async ({ plugin, count }) => {
      try {
        await this.prewarm(plugin, count);
        this.#log.info("Pre-warmed plugin workers", { plugin, count });
      } catch (error) {
        const wire = serializeError(error);
        this.#log.warn("Cannot pre-warm plugin", { plugin, code: wire.code, error: wire.message });
      }
    }));
  }

  /** Terminates every worker; runs still going end `cancelled` with `job_interrupted`. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Set before #close() runs: terminating a worker that is still starting retires it at once,
      // and #retired must see the pool closing (else it logs a start failure and fails a job).
      let closed!: () => void;
      let failed!: (error: unknown) => void;
      this.#closing = new Promise<void>((resolve, reject) => ((closed = resolve), (failed = reject)));
      this.#close().then(closed, failed);
    }
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const task of [...this.#tasks]) this.#end(task, "closed");
    const stopped: Promise<void>[] = [];
    for (const group of this.#groups.values()) {
      for (const host of [...group.hosts]) stopped.push(host.terminate({ code: "job_interrupted", message: "Plugin pool closed" }));
    }
    for (const handle of this.#idleTimers.values()) this.#timers.clearTimeout(handle);
    this.#idleTimers.clear();
    await Promise.all(stopped);
  }

  #start(request: RunRequest, resolve: (outcome: JobOutcome) => void): void {
    if (this.#closing !== undefined) {
      resolve({ status: "cancelled", error: { code: "job_interrupted", message: `Cannot run job "${request.jobId}": the plugin pool is closed` } });
      return;
    }
    const ref = parsePluginRef(request.plugin);
    const { timeoutMs } = request;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS) {
      throw new EdgeError("input_invalid", `Cannot run job "${request.jobId}": timeoutMs must be between 1 and ${MAX_TIMER_MS}, got ${String(timeoutMs)}`);
    }
    const { interrupt } = request;
    const task = startTask(request, resolve, { options: this.#options, storage: this.#storage, log: this.#log, timers: this.#timers, end: (t, why) => this.#end(t, why) });
    const early: Ending | undefined = request.signal.aborted ? "cancelled" : interrupt?.aborted ? "interrupted" : undefined;
    if (early !== undefined) return this.#settle(task, this.#ended(task, early, undefined));
    this.#tasks.add(task);
    this.#route(task, ref);
    // Armed after the run went to a worker, in the same turn (no cancel or timeout can come in
    // between): the listeners and the timer are not on the way to the job's first line (issue 15).
    if (task.done) return;
    request.signal.addEventListener("abort", task.onAbort, { once: true });
    interrupt?.addEventListener("abort", task.onInterrupt, { once: true });
    task.deadline = this.#timers.setTimeout(guarded(this.#log, () => this.#end(task, "timed_out")), timeoutMs);
  }

  /** Finds the run's plugin and hands it to a worker (or queues it): in this turn when its source is known at once. */
  #route(task: Task, ref: ReturnType<typeof parsePluginRef>): void {
    const builtin = builtinSource(ref);
    if (builtin !== undefined) return this.#enqueue(task, builtin);
    // A resolver that answers at once (a bundle verified moments ago) dispatches in this turn:
    // every promise hop here lies between an offer and the job's first line (issue 15).
    const failed = (error: unknown) => this.#settle(task, { status: "failed", error: serializeError(error, "plugin_not_found") });
    let resolved: PluginSource | Promise<PluginSource>;
    try {
      resolved = this.#resolve(ref, task.request.signal);
    } catch (error) {
      return failed(error);
    }
    if (!(resolved instanceof Promise)) return this.#enqueue(task, resolved);
    resolved.then((source) => { if (!task.done) this.#enqueue(task, source); }, failed);
  }

  /** `handedBack`: a run taken back from a worker that never started it, first in line again. */
  #enqueue(task: Task, source: PluginSource, handedBack = false): void {
    const group = this.#group(source);
    task.group = group;
    const host = (handedBack ? undefined : busyWorkerFor(group)) ?? group.idle.pop();
    if (host !== undefined) return this.#dispatch(task, host);
    if (handedBack) group.queue.unshift(task);
    else group.queue.push(task);
    this.#pump(group);
  }

  /** Gives queued runs to idle workers, then starts workers for the rest up to the limit. */
  #pump(group: Group): void {
    if (this.#closing !== undefined) return;
    while (group.queue.length > 0 && group.idle.length > 0) this.#dispatch(group.queue.shift() as Task, group.idle.pop() as WorkerHost);
    let starting = 0;
    for (const host of group.hosts) if (host.state === "starting") starting++;
    while (group.queue.length > starting && group.hosts.size < group.policy.maxWorkers) {
      if (this.#spawn(group) === undefined) return;
      starting++;
    }
  }

  #dispatch(task: Task, host: WorkerHost): void {
    this.#clearIdle(host);
    task.host = host;
    const { request } = task;
    const { runId, result } = host.execute({ id: request.jobId, attempt: request.attempt, action: request.action, input: request.input, artifactMaxBytes: task.calls.artifactMaxBytes }, task.sink);
    task.runId = runId;
    void result.then(guarded(this.#log, (r: JobOutcome | undefined) => (r === undefined ? this.#handedBack(task) : this.#finished(task, host, r))));
  }

  #finished(task: Task, host: WorkerHost, result: JobOutcome): void {
    this.#settle(task, task.ending === undefined ? result : this.#ended(task, task.ending, result));
    if (task.group === undefined) return;
    recordRun(task.group, host);
    if (host.state === "idle") this.#release(task.group, host);
  }

  /** A queued run its worker never started (taken back: stalled, worker gone, or the run ended). */
  #handedBack(task: Task): void {
    task.host = undefined;
    if (task.done || task.group === undefined) return;
    if (task.ending !== undefined || this.#closing !== undefined) this.#settle(task, this.#ended(task, task.ending ?? "closed", undefined));
    else this.#enqueue(task, task.group.source, true);
  }

  /** A worker just became idle (loaded, or finished a run): reuse it, recycle it, or let it idle. */
  #release(group: Group, host: WorkerHost): void {
    // Already given back: two runs of one worker can end in one task, each finishing here.
    if (this.#closing !== undefined || host.state !== "idle" || this.#idleTimers.has(host)) return;
    if (host.jobsServed >= group.policy.maxJobsPerWorker) {
      this.#log.debug("Recycling plugin worker", { worker: host.id, plugin: host.label, jobsServed: host.jobsServed });
      void host.terminate({ code: "internal", message: "Plugin worker recycled" });
      return;
    }
    const ceiling = group.policy.memoryCeilingMb;
    if (ceiling !== undefined && host.memoryBytes !== undefined && host.memoryBytes > ceiling * 1024 * 1024) {
      // The only memory bound that holds on Bun, which ignores Worker resourceLimits.
      this.#log.info("Recycling plugin worker past its memory ceiling", { worker: host.id, plugin: host.label, memoryBytes: host.memoryBytes, memoryCeilingMb: ceiling });
      void host.terminate({ code: "internal", message: "Plugin worker recycled: memory ceiling" });
      return;
    }
    const next = group.queue.shift();
    if (next !== undefined) {
      this.#dispatch(next, host);
      return;
    }
    group.idle.push(host);
    this.#idleTimers.set(host, this.#timers.setTimeout(guarded(this.#log, () => {
      this.#idleTimers.delete(host);
      if (host.state === "idle") void host.terminate({ code: "internal", message: "Plugin worker idle" });
    }), group.policy.idleMs));
  }

  #spawn(group: Group): WorkerHost | undefined {
    let host: WorkerHost;
    try {
      host = this.#newHost(group);
    } catch (error) {
      // The thread could not even be created (missing entry, out of threads): fail a waiting job.
      const wire = serializeError(error, "plugin_crashed");
      this.#log.error("Cannot start plugin worker thread", { plugin: group.label, error: wire.message });
      const oldest = group.queue.shift();
      if (oldest !== undefined) this.#settle(oldest, { status: "failed", error: { code: "plugin_crashed", message: `Cannot start a worker for plugin "${group.label}": ${wire.message}` } });
      return undefined;
    }
    if (host.state !== "stopping") group.hosts.add(host);
    host.ready().then(guarded(this.#log, () => this.#release(group, host)), () => undefined);
    return host;
  }

  #newHost(group: Group): WorkerHost {
    // Assigned below: what the worker writes past the runtime's capture (a child's stderr, a
    // thread's raw writes to fd 1 and 2) is masked with its last and pending runs' secrets.
    let host: WorkerHost | undefined;
    const own = this.#options.processRedaction ?? redactor;
    const stray = new StrayOutput(group.label, this.#log, () => host?.strayRedaction() ?? own);
    host = new WorkerHost({
      id: this.#nextWorkerId++,
      label: group.label,
      source: group.source,
      logger: this.#log,
      timers: this.#timers,
      startTimeoutMs: this.#options.startTimeoutMs ?? 30_000,
      spawn: () => startPluginThread({
        policy: group.policy,
        ...(this.#options.maxWorkerHeapMb === undefined ? {} : { maxWorkerHeapMb: this.#options.maxWorkerHeapMb }),
        ...(this.#options.spawn === undefined ? {} : { spawn: this.#options.spawn }),
        onStderr: (text, end) => stray.write("process stderr", text, end),
      }),
      onOutput: (stream, text, end) => stray.write(stream, text, end),
      onRetired: (retired, error, wasStarting) => this.#retired(group, retired, error, wasStarting),
      ...(group.policy.isolation === "thread" ? { pipeline: { stallMs: STALL_MS, onStalled: () => { group.fastRuns = 0; } } } : {}),
      // A third-party bundle gets no say in the built-in integrations' pacing.
      ...(group.policy.isolation === "thread" && group.source.kind === "builtin" ? { rateHolds: this.#rateHolds } : {}),
      redaction: own,
    });
    return host;
  }

  #retired(group: Group, host: WorkerHost, error: WireError, wasStarting: boolean): void {
    group.hosts.delete(host);
    const at = group.idle.indexOf(host);
    if (at >= 0) group.idle.splice(at, 1);
    this.#clearIdle(host);
    // A plugin that cannot load fails the oldest waiting job rather than being restarted forever.
    if (wasStarting && this.#closing === undefined) {
      this.#log.warn("Cannot start plugin worker", { worker: host.id, plugin: host.label, code: error.code, error: error.message });
      const oldest = group.queue.shift();
      if (oldest !== undefined) this.#settle(oldest, { status: "failed", error });
    }
    if (group.hosts.size === 0 && group.queue.length === 0) this.#groups.delete(group.key);
    else queueMicrotask(() => this.#pump(group));
  }

  /** Cancel or timeout: queued runs end now; running ones get the abort, a grace, then terminate. */
  #end(task: Task, why: Ending): void {
    if (task.done || task.ending !== undefined) return;
    task.ending = why;
    const host = task.host;
    // A run still queued behind another is taken back (#handedBack ends it), never cancelled in the worker.
    if (host?.reclaim(task.runId) === true) return;
    if (host === undefined) {
      const queue = task.group?.queue;
      const at = queue?.indexOf(task) ?? -1;
      if (at >= 0) queue?.splice(at, 1);
      this.#settle(task, this.#ended(task, why, undefined));
      return;
    }
    if (why === "closed") {
      void host.terminate({ code: "job_interrupted", message: "Plugin pool closed" });
      return;
    }
    const reason = why === "timed_out" ? "Job timed out" : abortReason(why === "interrupted" && task.request.interrupt !== undefined ? task.request.interrupt : task.request.signal);
    host.cancel(task.runId, reason);
    task.grace = this.#timers.setTimeout(guarded(this.#log, () => {
      this.#log.warn("Terminating plugin worker: the plugin did not stop in time", { worker: host.id, plugin: host.label, jobId: task.request.jobId, graceMs: this.#graceMs });
      void host.terminate({ code: why === "timed_out" ? "plugin_timeout" : "job_cancelled", message: `Plugin did not stop within ${this.#graceMs} ms` });
    }), this.#graceMs);
  }

  #ended(task: Task, why: Ending, result: JobOutcome | undefined): JobOutcome {
    const { jobId, timeoutMs, signal, plugin } = task.request;
    return endedOutcome({ jobId, timeoutMs, signal, plugin: task.group?.label ?? plugin, dispatched: task.host !== undefined }, why, result);
  }

  #settle(task: Task, settled: JobOutcome): void {
    if (task.done) return;
    task.done = true;
    this.#tasks.delete(task);
    if (task.deadline !== undefined) this.#timers.clearTimeout(task.deadline);
    if (task.grace !== undefined) this.#timers.clearTimeout(task.grace);
    task.request.signal.removeEventListener("abort", task.onAbort);
    task.request.interrupt?.removeEventListener("abort", task.onInterrupt);
    const outcome = boundOutcome(task.redaction, settled);
    // Artifacts the plugin kept travel with the result, whatever the outcome.
    const artifacts = task.calls.artifacts;
    if (artifacts.length > 0) outcome.artifacts = artifacts;
    // The job's processes and intermediate data are gone before its result is reported (a failed
    // deletion is retried in the background by the storage service, and counted).
    stopRunProcesses(task.childGroups, task.host?.processGroup, this.#graceMs).catch((error: unknown) => {
      this.#log.error("Cannot stop a job's processes", { jobId: task.request.jobId, error: serializeError(error).message });
    }).then(() => task.calls.close()).then(
      () => task.resolve(outcome),
      (error: unknown) => {
        this.#log.error("Cannot delete a job's intermediate data", { jobId: task.request.jobId, attempt: task.request.attempt, error: serializeError(error).message });
        task.resolve(outcome);
      },
    );
  }

  #group(source: PluginSource): Group {
    const key = sourceKey(source);
    let group = this.#groups.get(key);
    if (group === undefined) {
      const policy = source.kind === "builtin" ? this.#policy.for(source.name) : this.#policy.for(source.name, source.version);
      group = { key, label: sourceLabel(source), source, policy, hosts: new Set(), idle: [], queue: [], fastRuns: 0 };
      this.#groups.set(key, group);
    }
    return group;
  }

  #clearIdle(host: WorkerHost): void {
    const handle = this.#idleTimers.get(host);
    if (handle === undefined) return;
    this.#timers.clearTimeout(handle);
    this.#idleTimers.delete(host);
  }
}
