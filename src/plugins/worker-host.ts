// The runner's side of one plugin worker (a Worker thread, or a child process in process mode):
// starts it, sends runs, routes its logs, steps and host calls, and turns every way a worker can
// die into a settled run, never a rejected promise.

import { EdgeError, errorMessage, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { JobOutcome, WireError } from "../protocol/edge-v1.ts";
import { mayBeOwnChild, stopProcessGroups } from "./processes/process-group.ts";
import { logWindowMemory, taken } from "./log-window.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { RunSink, WorkerHostOptions } from "./worker-host-options.ts";
import type { HostCall, HostToWorker, RunJob, WorkerToHost } from "./worker-protocol.ts";
import { transitionWorker, type WorkerInfo, type WorkerState } from "./worker-state.ts";
import { plainText } from "./job-text.ts";
import { RunQueue, type QueuedRun } from "./worker-host-queue.ts";
import { MASK } from "../log/redact.ts";
import { applySpans } from "../secrets/redaction/pattern-matcher.ts";
import { unionOf, type CutRedaction } from "../secrets/redaction/stream-cut.ts";

/** The error a worker's message carries, as {code, message} of text whatever the plugin posted (clipped later, job-text.ts). */
function workerError(value: unknown): WireError {
  const error: Partial<Record<"code" | "message", unknown>> = value !== null && typeof value === "object" ? value : { message: value };
  const code = error.code === undefined ? "" : plainText(error.code).slice(0, 128);
  return { code: code === "" ? "plugin_error" : code, message: plainText(error.message ?? "The plugin failed without an error message").slice(0, 65_536) };
}

/** How many runs back a worker's stray output is masked with (a timer outliving a few short runs). */
const RECENT_REDACTIONS = 4;

/** After a worker's error event, how long without a message from it before it is failed. */
const ERROR_QUIET_MS = 250;

interface PendingRun extends QueuedRun {
  readonly sink: RunSink;
}

export class WorkerHost {
  readonly id: number;
  readonly label: string;
  readonly startedAt: number;
  #state: WorkerState = "starting";
  #jobsServed = 0;
  #nextRunId = 1;
  readonly #pending = new Map<number, PendingRun>();
  readonly #options: WorkerHostOptions;
  readonly #worker: PluginThread;
  #memoryBytes: number | undefined;
  readonly #log: Logger;
  #lastError: string | undefined;
  /** Armed by an error event: the worker is failed once its messages stop coming (#onError). */
  #errorTimer: unknown;
  #startSettle: ((error?: EdgeError) => void) | undefined;
  readonly #started: Promise<void>;
  #terminated: Promise<void> = Promise.resolve();
  /**
   * The redactions of the worker's last runs, newest last: what it prints after a run (a timer left
   * behind, a child's late output) can arrive once the next run began, and is masked with them.
   */
  #recentRedactions: CutRedaction[] = [];
  /** Threads only: runs queued behind the current one (worker-host-queue.ts). */
  readonly #queue: RunQueue<PendingRun> | undefined;
  /** Threads only: characters of log lines taken, shared with the worker (log-window.ts). */
  readonly #logWindow: Int32Array | undefined;
  /** How long the last run took in the worker. */
  #lastRunMs: number | undefined;

  constructor(options: WorkerHostOptions) {
    this.#options = options;
    this.id = options.id;
    this.label = options.label;
    this.startedAt = options.timers.now();
    this.#log = options.logger.child({ worker: options.id, plugin: options.label });
    this.#worker = options.spawn();
    this.#started = new Promise<void>((resolve, reject) => {
      const timer = options.timers.setTimeout(() => {
        void this.#fail({ code: "plugin_timeout", message: `Cannot start plugin "${this.label}": not ready within ${options.startTimeoutMs} ms` });
      }, options.startTimeoutMs);
      this.#startSettle = (error) => {
        options.timers.clearTimeout(timer);
        this.#startSettle = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    // Nobody may await a prewarm; a failed start must not become an unhandled rejection.
    this.#started.catch(() => undefined);
    // Without an 'error' listener a throwing Worker takes a Node parent down with it.
    this.#worker.on("error", this.#guarded((error: Error & { code?: string }) => this.#onError(error)));
    this.#worker.on("exit", this.#guarded((code: number) => this.#onExit(code)));
    this.#worker.on("message", this.#guarded((message: WorkerToHost) => this.#onMessage(message)));
    if (options.pipeline !== undefined) {
      this.#queue = new RunQueue({ pending: this.#pending, pipeline: options.pipeline, timers: options.timers, guarded: (callback) => this.#guarded(callback) });
      this.#logWindow = logWindowMemory();
    }
    const shared = options.rateHolds === undefined ? {} : { rateHolds: options.rateHolds };
    this.#post(this.#queue === undefined ? { type: "init", source: options.source, ...shared } : { type: "init", source: options.source, claims: this.#queue.claims, logWindow: this.#logWindow!, ...shared });
  }

  get state(): WorkerState { return this.#state; }
  get jobsServed(): number { return this.#jobsServed; }

  /** Resolves when the plugin is loaded; rejects with an EdgeError (plugin_not_found, plugin_error, …). */
  ready(): Promise<void> { return this.#started; }

  /**
   * Sends one run to an idle worker, or queues it behind the busy worker's runs (`canQueue`).
   * The promise always resolves: `undefined` only for a queued run taken back unstarted.
   */
  execute(job: RunJob, sink: RunSink): { runId: number; result: Promise<JobOutcome | undefined> } {
    const runId = this.#nextRunId++;
    const slot = this.#state === "busy" ? this.#queue?.take() : undefined;
    if (slot === undefined) {
      this.#to("busy");
      this.#queue?.headStarted();
    }
    const result = new Promise<JobOutcome | undefined>((settle) => this.#pending.set(runId, { sink, settle, slot }));
    if (slot === undefined) {
      this.#remember(sink.redaction);
      this.#post({ type: "run", runId, job });
      return { runId, result };
    }
    const queue = this.#queue as RunQueue<PendingRun>;
    queue.claim(slot, runId);
    this.#post({ type: "run", runId, job, claim: slot });
    queue.watch();
    return { runId, result };
  }

  /** Whether a run can be queued behind this busy worker's: it was made for it, and a slot is free. */
  get canQueue(): boolean {
    return this.#state === "busy" && this.#queue?.hasRoom === true;
  }

  /** Runs sent and not yet answered (the one running and those queued behind it). */
  get depth(): number {
    return this.#pending.size;
  }

  /** How long the last finished run took in the worker, in ms, as the worker reported it. */
  get lastRunMs(): number | undefined {
    return this.#lastRunMs;
  }

  /** Takes back a queued run the worker has not started; its result resolves `undefined`. False once it started. */
  reclaim(runId: number): boolean {
    return this.#queue?.reclaim(runId) ?? false;
  }

  cancel(runId: number, reason: string): void {
    if (this.#pending.has(runId)) this.#post({ type: "cancel", runId, reason });
  }

  /** Kills the thread now (the only way to stop a loop that never yields); pending runs settle with `reason`. */
  terminate(reason: WireError): Promise<void> {
    return this.#fail(reason);
  }

  info(): WorkerInfo {
    const info: WorkerInfo = { id: this.id, plugin: this.label, state: this.#state, jobsServed: this.#jobsServed, startedAt: this.startedAt };
    if (this.#memoryBytes !== undefined) info.memoryBytes = this.#memoryBytes;
    return info;
  }

  /** In process isolation, the host process's own group: its other members belong to the current run. */
  get processGroup(): number | undefined {
    return this.#worker.processGroup;
  }

  /** Masks what the worker printed outside a run: with the secrets of its last few runs (or the runner's own), and those of every run sent to it. */
  redactStray(text: string): string {
    return applySpans(text, this.strayRedaction().spans(text), MASK);
  }

  /** The secrets redactStray() masks, for a stream of stray text cut in pieces (a process worker's stderr). */
  strayRedaction(): CutRedaction {
    const recent = this.#recentRedactions.length === 0 ? [this.#options.redaction] : this.#recentRedactions;
    return unionOf([...recent, ...[...this.#pending.values()].map((run) => run.sink.redaction)]);
  }

  #remember(redaction: CutRedaction): void {
    // Per run on the hot path: a run's finish repeats what its start remembered.
    if (this.#recentRedactions.at(-1) === redaction) return;
    const recent = this.#recentRedactions.filter((r) => r !== redaction);
    recent.push(redaction);
    this.#recentRedactions = recent.length > RECENT_REDACTIONS ? recent.slice(-RECENT_REDACTIONS) : recent;
  }

  /** The heap the worker last reported about itself (after a run), in bytes. */
  get memoryBytes(): number | undefined {
    return this.#memoryBytes;
  }

  #onMessage(message: WorkerToHost): void {
    if (this.#errorTimer !== undefined) this.#quietAfterError();
    // A plugin's code runs in the worker and can post anything: what is not a message is logged
    // and ignored, and every error it carries is made a {code, message} of text below.
    if (message === null || typeof message !== "object" || typeof message.type !== "string") {
      this.#log.warn("Ignored a message from the plugin worker that is not an object with a \"type\"");
      return;
    }
    if (this.#logWindow !== undefined) taken(this.#logWindow, message);
    switch (message.type) {
      case "log": {
        const run = this.#pending.get(message.runId);
        if (run === undefined) this.#log.debug("Dropped a log line of a finished run", { runId: message.runId });
        else run.sink.onLog({ ts: message.ts, level: message.level, msg: message.msg });
        return;
      }
      case "step":
        this.#pending.get(message.runId)?.sink.onStep(message.step);
        return;
      case "spawned": {
        // The runner signals this group at the job's end: never one the plugin did not start.
        if (!mayBeOwnChild(message.pid, this.#worker.processGroup ?? process.pid)) {
          this.#log.warn("Ignored a spawned process that is not a child of the plugin's worker", { pid: plainText(message.pid).slice(0, 32) });
          return;
        }
        const run = this.#pending.get(message.runId);
        // A child of a run that already ended has no job left to stop it with: stop it now.
        if (run === undefined) stopProcessGroups([message.pid], { graceMs: 0 }).catch(() => undefined);
        else run.sink.onSpawned(message.pid);
        return;
      }
      case "call":
        this.#call(message.runId, message.callId, message.call);
        return;
      case "usage":
        if (Number.isFinite(message.heapBytes)) this.#memoryBytes = message.heapBytes;
        return;
      case "done":
        this.#finish(message.runId, { status: "succeeded", output: message.output }, false, message.ms);
        return;
      case "failed": {
        const error = workerError(message.error);
        this.#finish(message.runId, message.output === undefined ? { status: "failed", error } : { status: "failed", error, output: message.output }, message.broken === true, message.ms);
        return;
      }
        return;
      case "ready":
        if (this.#state !== "starting") return;
        this.#to("idle");
        this.#startSettle?.();
        return;
      case "init_failed":
        void this.#fail(workerError(message.error));
        return;
      case "stray":
        this.#options.onOutput?.("outside a run", plainText(message.text));
        return;
      case "output":
        if ((message.fd === 1 || message.fd === 2) && typeof message.text === "string") this.#options.onOutput?.(message.fd === 1 ? "stdout" : "stderr", message.text);
        return;
      case "fatal": {
        const error = workerError(message.error);
        this.#log.warn("Plugin broke its worker", { code: this.redactStray(error.code), error: this.redactStray(error.message) });
        void this.#fail(error);
        return;
      }
    }
  }

  /** A plugin's ctx.secrets / ctx.storage call: answered by the run's sink; an ended run gets an error. */
  #call(runId: number, callId: number, call: HostCall): void {
    const run = this.#pending.get(runId);
    let answer: Promise<unknown>;
    try {
      // Started now, not in a later microtask: a secret.mask call must take effect before the
      // plugin's next message (a log line) is handled, even when several arrive in one chunk.
      answer = run === undefined
        ? Promise.reject(new EdgeError("job_cancelled", `Cannot answer "${String(call?.op)}": run ${runId} has ended`))
        : Promise.resolve(run.sink.call(call));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (value) => this.#reply({ type: "reply", callId, ok: true, value }),
      (error: unknown) => this.#reply({ type: "reply", callId, ok: false, error: serializeError(error) }),
    );
  }

  #reply(message: HostToWorker): void {
    if (this.#state === "stopping") return;
    try {
      this.#worker.postMessage(message);
    } catch (error) {
      this.#log.warn("Cannot answer a plugin's host call", { error: errorMessage(error) });
    }
  }

  #finish(runId: number, result: JobOutcome, broken: boolean, ms?: unknown): void {
    const run = this.#pending.get(runId);
    if (run === undefined) return;
    this.#pending.delete(runId);
    if (run.slot !== undefined) this.#queue?.free(run.slot);
    this.#lastRunMs = typeof ms === "number" && ms >= 0 ? ms : undefined;
    this.#queue?.headStarted();
    this.#remember(run.sink.redaction);
    this.#jobsServed++;
    if (broken) {
      // An escaped error may leave timers or half-done state behind that would hit the next job.
      const error = result.error ?? { code: "plugin_error", message: "broken" };
      this.#log.warn("Retiring plugin worker after an escaped error", { error: error.message });
      void this.#fail(error);
    } else if (this.#state === "busy" && this.#pending.size === 0) {
      this.#queue?.clearStall();
      this.#to("idle");
    }
    run.settle(result);
  }

  // Bun delivers a worker's error event ahead of the messages posted before it (log lines, the
  // worker's own `failed`): failing at once lost them. The run settles on the worker's report, its
  // exit (delivered after the rest) or once no message came for ERROR_QUIET_MS.
  #onError(error: Error & { code?: string }): void {
    this.#lastError = error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "ran out of memory" : `crashed: ${error.message}`;
    this.#quietAfterError();
  }
  #quietAfterError(): void {
    if (this.#lastError === undefined || this.#state === "stopping") return;
    if (this.#errorTimer !== undefined) this.#options.timers.clearTimeout(this.#errorTimer);
    this.#errorTimer = this.#options.timers.setTimeout(this.#guarded(() => {
      void this.#fail({ code: "plugin_crashed", message: `Plugin worker of "${this.label}" ${this.#lastError}` });
    }), ERROR_QUIET_MS);
  }

  #onExit(code: number): void {
    const why = this.#lastError ?? `exited with code ${code}`;
    void this.#fail({ code: "plugin_crashed", message: `Plugin worker of "${this.label}" ${why}` });
  }

  /**
   * Takes the worker out of service (once) and ends the thread: settles the start and every
   * pending run with `error`. Resolves when the thread is gone. Everything is settled before
   * terminate() is called because Deno may emit 'exit' synchronously from inside it.
   */
  #fail(error: WireError): Promise<void> {
    if (this.#state === "stopping") return this.#terminated;
    if (this.#errorTimer !== undefined) this.#options.timers.clearTimeout(this.#errorTimer);
    const wasStarting = this.#state === "starting";
    this.#lastRunMs = undefined;
    this.#queue?.clearStall();
    // Queued runs the worker never started go back to the pool, not down with the worker.
    this.#queue?.reclaimQueued();
    this.#to("stopping");
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    // The code crosses as a string; EdgeError's union is for the runner's own codes.
    this.#startSettle?.(new EdgeError(error.code as EdgeError["code"], error.message));
    for (const run of pending) run.settle({ status: "failed", error });
    this.#options.onRetired(this, error, wasStarting);
    for (const stream of ["stdout", "stderr", "outside a run"] as const) this.#options.onOutput?.(stream, "", true);
    this.#terminated = this.#worker.terminate().then(() => undefined, () => undefined);
    return this.#terminated;
  }

  /** A bug here must be logged, not thrown from an event listener where it would stop the runner. */
  #guarded<A extends unknown[]>(listener: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        listener(...args);
      } catch (error) {
        this.#log.error("Plugin worker host bug", { error: errorMessage(error) });
      }
    };
  }

  #to(next: WorkerState): void {
    this.#state = transitionWorker(this.#state, next, this.id);
    // An idle worker must not keep a finished process alive; a busy one must.
    if (next === "idle") this.#worker.unref();
    else if (next === "busy") this.#worker.ref();
  }

  #post(message: HostToWorker): void {
    try {
      this.#worker.postMessage(message);
    } catch (error) {
      // An input that cannot be cloned (a function, a socket) fails its run, not the runner.
      const runId = message.type === "run" ? message.runId : undefined;
      const reason = { code: "input_invalid", message: `Cannot send ${message.type} to plugin "${this.label}": ${errorMessage(error)}` };
      if (runId !== undefined) this.#finish(runId, { status: "failed", error: reason }, false);
      else void this.#fail(reason);
    }
  }
}
