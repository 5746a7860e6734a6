// The runner's side of one plugin worker (a Worker thread, or a child process in process mode):
// starts it, sends runs, routes its logs, steps and host calls, and turns every way a worker can
// die into a settled run, never a rejected promise.

import { EdgeError, errorMessage, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { JobOutcome, LogLine, StepUpdate, WireError } from "../protocol/edge-v1.ts";
import type { Timers } from "../util/time.ts";
import { stopProcessGroups } from "./processes/process-group.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { HostCall, HostToWorker, PluginSource, RunJob, WorkerToHost } from "./worker-protocol.ts";
import { transitionWorker, type WorkerInfo, type WorkerState } from "./worker-state.ts";

export interface RunSink {
  onLog(line: LogLine): void;
  onStep(step: StepUpdate): void;
  /** Answers the plugin's ctx.secrets / ctx.storage calls; a rejection crosses as {code, message}. */
  call(call: HostCall): Promise<unknown>;
  /** The run started a child process leading its own process group, stopped when the job ends. */
  onSpawned(pid: number): void;
  /** Masks the job's secrets: kept after the run for what the worker prints later. */
  redact(text: string): string;
}

export interface WorkerHostOptions {
  id: number;
  /** What status shows: "echo", "shell@1.2.0". */
  label: string;
  source: PluginSource;
  logger: Logger;
  timers: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  startTimeoutMs: number;
  spawn(): PluginThread;
  /** Called once when the worker leaves service for any reason (asked to stop, crashed, broke, never loaded). */
  onRetired(host: WorkerHost, error: WireError, wasStarting: boolean): void;
  /** Masks the runner's own secrets in what the worker prints before its first run. */
  redact(text: string): string;
}

interface PendingRun {
  readonly sink: RunSink;
  /** Settles with the pool's own outcome type: `succeeded`, or `failed` with the named outputs set before the failure. */
  readonly settle: (outcome: JobOutcome) => void;
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
  #startSettle: ((error?: EdgeError) => void) | undefined;
  readonly #started: Promise<void>;
  #terminated: Promise<void> = Promise.resolve();
  /** The last run's redaction: what the worker prints after (or between) runs is masked with it. */
  #lastRedact: ((text: string) => string) | undefined;

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
    this.#post({ type: "init", source: options.source });
  }

  get state(): WorkerState { return this.#state; }
  get jobsServed(): number { return this.#jobsServed; }

  /** Resolves when the plugin is loaded; rejects with an EdgeError (plugin_not_found, plugin_error, …). */
  ready(): Promise<void> { return this.#started; }

  /** Sends one run to an idle worker; the promise always resolves. */
  execute(job: RunJob, sink: RunSink): { runId: number; result: Promise<JobOutcome> } {
    this.#to("busy");
    const runId = this.#nextRunId++;
    const result = new Promise<JobOutcome>((settle) => this.#pending.set(runId, { sink, settle }));
    this.#lastRedact = (text) => sink.redact(text);
    this.#post({ type: "run", runId, job });
    return { runId, result };
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

  /** Masks what the worker printed outside a run: with the last run's secrets, or the runner's own. */
  redactStray(text: string): string {
    return (this.#lastRedact ?? this.#options.redact)(text);
  }

  /** The heap the worker last reported about itself (after a run), in bytes. */
  get memoryBytes(): number | undefined {
    return this.#memoryBytes;
  }

  #onMessage(message: WorkerToHost): void {
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
        const run = this.#pending.get(message.runId);
        // A child of a run that already ended has no job left to stop it with: stop it now.
        if (run === undefined) stopProcessGroups([message.pid], { graceMs: 0 }).catch(() => undefined);
        else if (Number.isInteger(message.pid) && message.pid > 1) run.sink.onSpawned(message.pid);
        return;
      }
      case "call":
        this.#call(message.runId, message.callId, message.call);
        return;
      case "usage":
        if (Number.isFinite(message.heapBytes)) this.#memoryBytes = message.heapBytes;
        return;
      case "done":
        this.#finish(message.runId, { status: "succeeded", output: message.output }, false);
        return;
      case "failed":
        this.#finish(message.runId, message.output === undefined ? { status: "failed", error: message.error } : { status: "failed", error: message.error, output: message.output }, message.broken === true);
        return;
      case "ready":
        if (this.#state !== "starting") return;
        this.#to("idle");
        this.#startSettle?.();
        return;
      case "init_failed":
        void this.#fail(message.error);
        return;
      case "stray":
        this.#log.warn("Plugin printed outside a run", { text: this.redactStray(String(message.text)).slice(0, 4096) });
        return;
      case "fatal":
        this.#log.warn("Plugin broke its worker", { code: this.redactStray(String(message.error.code)), error: this.redactStray(String(message.error.message)) });
        void this.#fail(message.error);
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

  #finish(runId: number, result: JobOutcome, broken: boolean): void {
    const run = this.#pending.get(runId);
    if (run === undefined) return;
    this.#pending.delete(runId);
    this.#jobsServed++;
    if (broken) {
      // An escaped error may leave timers or half-done state behind that would hit the next job.
      const error = result.error ?? { code: "plugin_error", message: "broken" };
      this.#log.warn("Retiring plugin worker after an escaped error", { error: error.message });
      void this.#fail(error);
    } else if (this.#state === "busy") {
      this.#to("idle");
    }
    run.settle(result);
  }

  #onError(error: Error & { code?: string }): void {
    this.#lastError = error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "ran out of memory" : `crashed: ${error.message}`;
    void this.#fail({ code: "plugin_crashed", message: `Plugin worker of "${this.label}" ${this.#lastError}` });
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
    const wasStarting = this.#state === "starting";
    this.#to("stopping");
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    // The code crosses as a string; EdgeError's union is for the runner's own codes.
    this.#startSettle?.(new EdgeError(error.code as EdgeError["code"], error.message));
    for (const run of pending) run.settle({ status: "failed", error });
    this.#options.onRetired(this, error, wasStarting);
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
