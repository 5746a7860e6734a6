// The plugin worker's runtime, shared by the Worker thread entry and the child-process entry:
// loads one plugin, then runs its actions one job at a time. Guards against process.exit and
// escaped errors are installed before any plugin code is loaded, so a misbehaving plugin fails
// its own job and never takes the runner down.

import { denoApi } from "../platform/runtime.ts";
import { closeGlobalModuleSearchPaths } from "../platform/module-search-paths.ts";
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { serializeError } from "../errors.ts";
import type { LogLevel, WireError } from "../protocol/edge-v1.ts";
import { loadBuiltin } from "./builtin/index.ts";
import { actionContext, mergeOutputs, PendingCalls, type CurrentRun } from "./action-context.ts";
import { LogWindow, WindowedRun } from "./log-window.ts";
import { shareRateHolds } from "./rate-holds.ts";
import { trackChildProcesses } from "./processes/child-tracking.ts";
import { isPluginDefinition, type PluginDefinition } from "./sdk.ts";
import type { HostToWorker, PluginSource, RunJob, WorkerToHost } from "./worker-protocol.ts";

/** What one console call or write outside a run keeps (the rest is dropped). */
const STRAY_MAX_CHARS = 16 * 1024;

/** A run as the runtime keeps it: the context's state, when it started, and its lines and steps through the log window. */
type Run = CurrentRun & { startedAt: number; out: WindowedRun };

/** How the runtime talks to its host: a thread's parentPort or a child process's IPC channel. */
export interface RuntimePort {
  post(message: WorkerToHost): void;
  onMessage(listener: (message: HostToWorker) => void): void;
}

const CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** Memory is sampled after a run that took this long, or when the last sample is older than USAGE_EVERY_MS (sampling costs ~12 µs). */
const USAGE_SLOW_RUN_MS = 1;
const USAGE_EVERY_MS = 50;

/** Thrown out of the replaced exit functions so the plugin's code after exit() does not go on. */
class ExitIntercepted extends Error {
  constructor(call: string) {
    super(`Plugin called ${call}`);
    this.name = "ExitIntercepted";
  }
}

export function startPluginRuntime(port: RuntimePort): void {
  const post = (message: WorkerToHost): void => port.post(message);
  const calls = new PendingCalls();
  let plugin: PluginDefinition | undefined;
  let current: (Run) | undefined;
  // The run whose code is printing. A timer or promise a run left behind still belongs to it after
  // the worker took the next job: its console output is stray (masked with that job's secrets by
  // the host), not a line in the next job's log, where the next job's redaction knows none of them.
  const runContext = new AsyncLocalStorage<Run>();
  /** The unfinished run the calling code belongs to; where the runtime lost the context, the worker's current one. */
  const printingRun = (): Run | undefined => {
    const run = runContext.getStore() ?? current;
    return run !== undefined && !run.finished ? run : undefined;
  };
  // Runs the host queued behind the current one (pool-pipeline.ts), each started only if the
  // worker wins its claim slot first; none is started once the worker is broken.
  const queued: Array<{ runId: number; job: RunJob; claim: number }> = [];
  let claims: Int32Array | undefined;
  const logWindow = new LogWindow();
  let broken = false;
  // -Infinity: the first run always reports, so a young worker's memory is known (the status page's MEMORY column).
  let lastUsageAt = -Infinity;

  // ---- guards: before any plugin code ----

  /** Reports the attempt to end the worker (the host then terminates it) and unwinds the plugin. */
  function intercept(call: string): never {
    const error = new ExitIntercepted(call);
    broken = true;
    if (current !== undefined) current.finished = true;
    post({ type: "fatal", error: { code: "plugin_exit", message: error.message } });
    throw error;
  }

  process.exit = ((code?: unknown) => intercept(`process.exit(${String(code ?? "")})`)) as typeof process.exit;
  // The other ways a plugin could take the whole runner process down with it.
  process.abort = (() => intercept("process.abort()")) as typeof process.abort;
  const realKill = process.kill.bind(process);
  process.kill = ((pid: number, signal?: string | number) => {
    if (pid === process.pid || pid === 0 || pid === -process.pid || pid === process.ppid) intercept(`process.kill(${pid}, ${String(signal ?? "SIGTERM")})`);
    return realKill(pid, signal);
  }) as typeof process.kill;
  // No require() a plugin reaches searches $HOME/.node_modules or NODE_PATH (HOME is the data dir
  // under the shipped units): only built-ins and node_modules.
  closeGlobalModuleSearchPaths();
  const deno = denoApi();
  if (deno !== undefined && typeof deno.exit === "function") {
    try {
      deno.exit = (code?: unknown) => intercept(`Deno.exit(${String(code ?? "")})`);
    } catch {
      // Deno.exit is read-only on some versions; process.exit is the one plugins use under Node compat.
    }
  }

  function onEscaped(kind: string) {
    return function escaped(error: unknown): void {
      // The exit guard already reported; its error unwinding through a timer lands here.
      if (error instanceof ExitIntercepted) return;
      const wire = toWire(error);
      const message = `${kind}: ${wire.message}`;
      broken = true;
      if (current !== undefined && !current.finished) {
        current.finished = true;
        post({ type: "failed", runId: current.runId, error: { code: "plugin_error", message }, broken: true, ...outputsOf(current) });
      } else {
        post({ type: "fatal", error: { code: "plugin_error", message } });
      }
    };
  }
  const uncaught = onEscaped("Uncaught error");
  const unhandled = onEscaped("Unhandled rejection");
  process.on("uncaughtException", uncaught);
  process.on("unhandledRejection", unhandled);
  // Where process events are not delivered (`bun test` workers), the web events may be.
  const scope = globalThis as unknown as { addEventListener?: (type: string, listener: (event: Event) => void) => void };
  scope.addEventListener?.("error", (event) => {
    event.preventDefault();
    uncaught((event as ErrorEvent).error);
  });
  scope.addEventListener?.("unhandledrejection", (event) => {
    event.preventDefault();
    unhandled((event as PromiseRejectionEvent).reason);
  });

  // Children a plugin starts are reported with their run, so the host can stop their process
  // groups when the job ends; one started after its run ended has no job to belong to.
  trackChildProcesses((pid) => {
    const run = current;
    if (run !== undefined && !run.finished) post({ type: "spawned", runId: run.runId, pid });
    else {
      try {
        realKill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });

  // Plugins that print with console.* or process.stdout/stderr.write still reach their job's log.
  // Outside a run (a timer left behind) the text goes to the host as the stream it is (a console
  // call is a line, a write is what was written), which cuts it into lines and masks them with the
  // last job's scope: never raw to the runner's stderr, where a secret would reach the journal.
  // A text cut to STRAY_MAX_CHARS ends its line there: the host masks a secret's first part at a
  // line's end (stream-cut.ts), but not mid-line, where the next write would have continued it.
  const stray = (text: string): void => post({ type: "stray", text: text.length <= STRAY_MAX_CHARS ? text : `${text.slice(0, STRAY_MAX_CHARS - 1)}\n` });
  const consoleLevels: ReadonlyArray<readonly [string, LogLevel]> = [["debug", "debug"], ["log", "info"], ["info", "info"], ["warn", "warn"], ["error", "error"]];
  for (const [method, level] of consoleLevels) {
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]): void => {
      const run = printingRun();
      if (run !== undefined) logLine(run, level, format(...args));
      else stray(`${format(...args)}\n`);
    };
  }
  const streams: ReadonlyArray<readonly [{ write?: unknown } | undefined, LogLevel]> = [[process.stdout, "info"], [process.stderr, "warn"]];
  for (const [stream, level] of streams) {
    if (stream === undefined || typeof stream.write !== "function") continue;
    // One decoder per stream: a character split between two writes stays whole (each half decoded
    // alone becomes U+FFFD, and a secret around it would no longer match its redaction).
    const decoder = new TextDecoder();
    try {
      stream.write = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
        const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? decoder.decode(chunk, { stream: true }) : String(chunk);
        const run = printingRun();
        // Empty when the write held only the first bytes of a character: they come with the next.
        if (text !== "") {
          if (run !== undefined) logLine(run, level, text.replace(/\r?\n$/, ""));
          else stray(text);
        }
        const done = typeof encoding === "function" ? encoding : callback;
        if (typeof done === "function") queueMicrotask(() => (done as () => void)());
        return true;
      };
    } catch {
      // A runtime whose streams cannot be replaced: console.* is still caught above.
    }
  }

  // ---- messages ----

  port.onMessage((message: HostToWorker) => {
    switch (message.type) {
      case "run":
        if (message.claim === undefined) run(message.runId, message.job);
        else if (current !== undefined) queued.push({ runId: message.runId, job: message.job, claim: message.claim });
        else if (claim(message.claim, message.runId)) run(message.runId, message.job);
        return;
      case "cancel":
        if (current?.runId === message.runId) current.abort.abort(new DOMException(message.reason, "AbortError"));
        return;
      case "reply":
        calls.settle(message.callId, message.ok, message.ok ? message.value : message.error);
        return;
      case "init":
        if (message.claims instanceof Int32Array) claims = message.claims;
        if (message.logWindow instanceof Int32Array) logWindow.attach(message.logWindow);
        if (message.rateHolds instanceof BigInt64Array) shareRateHolds(message.rateHolds);
        void init(message.source);
        return;
    }
  });

  async function init(source: PluginSource): Promise<void> {
    try {
      plugin = await load(source);
      post({ type: "ready", plugin: { name: plugin.name, version: plugin.version, actions: Object.keys(plugin.actions) } });
      reportUsage(-Infinity); // a pre-warmed worker that never ran shows its memory too
    } catch (error) {
      if (error instanceof ExitIntercepted) return;
      post({ type: "init_failed", error: toWire(error) });
    }
  }

  function run(runId: number, job: RunJob): void {
    if (plugin === undefined || current !== undefined) {
      const why = plugin === undefined ? "plugin not loaded" : `worker busy with run ${current?.runId}`;
      post({ type: "failed", runId, error: { code: "internal", message: `Cannot run job "${job.id}": ${why}` } });
      return;
    }
    const action = Object.hasOwn(plugin.actions, job.action) ? plugin.actions[job.action] : undefined;
    if (action === undefined) {
      const known = Object.keys(plugin.actions).map((a) => `"${a}"`).join(", ");
      const message = `Cannot run job "${job.id}": plugin "${plugin.name}" has no action "${job.action}" (it has ${known})`;
      post({ type: "failed", runId, error: { code: "input_invalid", message } });
      return;
    }
    const state = { runId, abort: new AbortController(), outputs: new Map<string, unknown>(), finished: false, startedAt: performance.now(), out: new WindowedRun(logWindow, post, runId) };
    current = state;
    let result: unknown;
    try {
      result = runContext.run(state, () => action(job.input, actionContext(state, job, { post, calls, logLine, postStep: (run, step) => (run as Run).out.step(step) })));
    } catch (error) {
      settle(state, false, error);
      return;
    }
    if (result !== null && typeof (result as { then?: unknown } | undefined)?.then === "function") {
      Promise.resolve(result).then((output) => settle(state, true, output), (error: unknown) => settle(state, false, error));
    } else {
      settle(state, true, result);
    }
  }

  /** The worker's side of a queued run's slot: false when the host took the run back. */
  function claim(slot: number, runId: number): boolean {
    return claims !== undefined && !broken && Atomics.compareExchange(claims, slot, runId, -runId) === runId;
  }

  /** The next queued run the host has not taken back, started right after the previous one's result is posted. */
  function next(): void {
    while (current === undefined && !broken && queued.length > 0) {
      const waiting = queued.shift() as { runId: number; job: RunJob; claim: number };
      if (claim(waiting.claim, waiting.runId)) run(waiting.runId, waiting.job);
    }
  }

  function settle(state: Run, ok: boolean, value: unknown): void {
    finish(state, ok, value);
    if (queued.length > 0) next();
  }

  function finish(state: Run, ok: boolean, value: unknown): void {
    if (current === state) current = undefined;
    if (state.finished) return;
    state.finished = true;
    const ms = performance.now() - state.startedAt;
    state.out.flush();
    reportUsage(state.startedAt);
    if (!ok) {
      if (value instanceof ExitIntercepted) return;
      post({ type: "failed", runId: state.runId, error: toWire(value), ...outputsOf(state), ms });
      return;
    }
    try {
      post({ type: "done", runId: state.runId, output: mergeOutputs(value, state.outputs), ms });
    } catch (error) {
      // Functions, symbols and class instances with private state cannot be cloned to the host.
      post({ type: "failed", runId: state.runId, error: { code: "plugin_error", message: `Cannot send the output of run ${state.runId}: ${toWire(error).message}` }, ...outputsOf(state) });
    }
  }

  /** The worker's own heap, so the host can recycle a worker past its memory ceiling (Bun has no heap cap). */
  function reportUsage(startedAt: number): void {
    const now = performance.now();
    if (now - startedAt < USAGE_SLOW_RUN_MS && now - lastUsageAt < USAGE_EVERY_MS) return;
    lastUsageAt = now;
    const usage = process.memoryUsage();
    post({ type: "usage", heapBytes: usage.heapUsed, rssBytes: usage.rss });
  }

  function logLine(state: CurrentRun, level: LogLevel, msg: unknown): void {
    if (state.finished) return;
    (state as Run).out.line(level, typeof msg === "string" ? msg : String(msg));
  }
}

async function load(source: PluginSource): Promise<PluginDefinition> {
  if (source.kind === "builtin") {
    const builtin = await loadBuiltin(source.name);
    if (builtin === undefined) throw wireError("plugin_not_found", `Cannot load plugin "${source.name}": no such built-in plugin`);
    return builtin;
  }
  const label = `${source.name}@${source.version}`;
  const module = (await import(source.url)) as { default?: unknown };
  if (!isPluginDefinition(module.default)) {
    throw wireError("plugin_error", `Cannot load plugin bundle "${label}": its default export is not a plugin (use definePlugin)`);
  }
  if (module.default.name !== source.name) {
    throw wireError("plugin_error", `Cannot load plugin bundle "${label}": it defines plugin "${module.default.name}"`);
  }
  return module.default;
}

/** The named outputs set before a failure travel with it; a value that cannot be sent is dropped. */
function outputsOf(state: CurrentRun): { output?: unknown } {
  return state.outputs.size === 0 ? {} : { output: Object.fromEntries(state.outputs) };
}

function wireError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Plugins choose their codes, but only well-formed ones; anything else becomes `plugin_error`. */
function toWire(error: unknown): WireError {
  const wire = serializeError(error, "plugin_error");
  const code = CODE.test(wire.code) ? wire.code : "plugin_error";
  return { code, message: wire.message };
}
