// The worker's side of an action's context: log lines, steps, named outputs, secrets, storage and
// artifacts (asked of the host over the worker protocol, context-storage.ts) and a fetch bound to the run's AbortSignal.

import type { LogLevel, StepUpdate, WireError } from "../protocol/edge-v1.ts";
import { contextArtifacts, contextStorage } from "./context-storage.ts";
import type { ActionContext, ActionOutputs } from "./sdk.ts";
import type { HostCall, RunJob, WorkerToHost } from "./worker-protocol.ts";
import { SENSITIVE } from "../secrets/sensitive-outputs.ts";
import { errorMessage } from "../errors.ts";
import { maskRefusal, type MaskCount } from "../secrets/redaction/mask-limits.ts";
import { outboundFetch } from "../platform/outbound-fetch.ts";

const STEP_STATUSES = new Set(["pending", "running", "succeeded", "failed", "skipped"]);
const OUTPUT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const MAX_OUTPUTS = 256;

/** One run as the worker tracks it. */
export interface CurrentRun {
  readonly runId: number;
  readonly abort: AbortController;
  readonly outputs: Map<string, unknown>;
  finished: boolean;
  /** What the run asked to mask so far (mask-limits.ts); made at its first mask. */
  masked?: MaskCount;
}

/** Host calls waiting for their reply, by call id; the runtime settles them on `reply`. */
export class PendingCalls {
  #next = 1;
  readonly #calls = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  open(post: (message: WorkerToHost) => void, runId: number, call: HostCall): Promise<unknown> {
    const callId = this.#next++;
    return new Promise((resolve, reject) => {
      this.#calls.set(callId, { resolve, reject });
      try {
        post({ type: "call", runId, callId, call });
      } catch (error) {
        // Never reached the host (a value that cannot be cloned, a closed port): no reply will come
        // to remove the entry, so it goes now and the caller gets the error.
        this.#calls.delete(callId);
        reject(error);
      }
    });
  }

  /** How many calls wait for a reply. */
  get size(): number {
    return this.#calls.size;
  }

  settle(callId: number, ok: boolean, value: unknown): void {
    const call = this.#calls.get(callId);
    if (call === undefined) return;
    this.#calls.delete(callId);
    if (ok) call.resolve(value);
    else {
      const wire = value as WireError;
      call.reject(Object.assign(new Error(wire.message), { code: wire.code }));
    }
  }
}

export interface ContextDeps {
  post(message: WorkerToHost): void;
  calls: PendingCalls;
  logLine(state: CurrentRun, level: LogLevel, msg: unknown): void;
  /** Posts a checked step update (through the log window: log-window.ts). */
  postStep(state: CurrentRun, step: StepUpdate): void;
}

export function actionContext(state: CurrentRun, job: RunJob, deps: ContextDeps): ActionContext {
  const log = (level: LogLevel) => (msg: string): void => deps.logLine(state, level, msg);
  /**
   * Refused here, thrown to the plugin, where the host would refuse it (a refusal answered later
   * would reach no one); otherwise posted before anything the plugin prints next, so the host
   * masks that already.
   */
  const mask = (value: string): void => {
    const sofar = (state.masked ??= { count: 0, chars: 0 });
    const refused = maskRefusal(value, sofar, `${job.id}#${job.attempt}`);
    if (refused !== undefined) throw new RangeError(refused);
    sofar.count++;
    sofar.chars += value.length;
    void call({ op: "secret.mask", value }).catch(() => undefined);
  };
  const call = (request: HostCall): Promise<unknown> => {
    if (state.finished) return Promise.reject(Object.assign(new Error(`Cannot call "${request.op}" for job "${job.id}": the run has ended`), { code: "job_cancelled" }));
    return deps.calls.open(deps.post, state.runId, request);
  };
  return {
    jobId: job.id,
    attempt: job.attempt,
    signal: state.abort.signal,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    step(update: StepUpdate): void {
      if (update === null || typeof update !== "object" || typeof update.id !== "string" || update.id === "" || !STEP_STATUSES.has(update.status)) {
        throw new TypeError(`Cannot report step ${JSON.stringify(update)}: it needs an "id" and a "status" (pending, running, succeeded, failed, skipped)`);
      }
      if (state.finished) return;
      const step: StepUpdate = { id: update.id, status: update.status };
      if (typeof update.name === "string") step.name = update.name;
      // Not cut here: the host redacts first and then clips, so a cut can never split a secret.
      if (typeof update.message === "string") step.message = update.message;
      deps.postStep(state, step);
    },
    outputs: outputsOf(state, (value) => mask(value)),
    secrets: {
      mask(value: string): void {
        if (typeof value !== "string") throw new TypeError("Cannot mask a value: it must be a string");
        mask(value);
      },
      async get(ref: string): Promise<string> {
        if (typeof ref !== "string" || ref === "" || ref.length > 256) throw new TypeError(`Cannot get secret ${JSON.stringify(ref)}: a reference is a non-empty string of at most 256 characters`);
        return (await call({ op: "secret.get", ref })) as string;
      },
    },
    storage: contextStorage(call),
    artifacts: contextArtifacts(call, job.artifactMaxBytes),
    fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
      const own = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      const signal = own === undefined || own === null ? state.abort.signal : AbortSignal.any([own, state.abort.signal]);
      // Through the runner's proxy, as every outbound call (Node's global fetch takes none).
      return outboundFetch(input, { ...init, signal });
    },
  };
}

function outputsOf(state: CurrentRun, mask: (value: string) => void): ActionOutputs {
  return {
    set(name: string, value: unknown, options?: { sensitive?: boolean }): void {
      if (typeof name !== "string" || !OUTPUT_NAME.test(name)) throw new TypeError(`Cannot set output ${JSON.stringify(name)}: a name is a letter, then letters, digits, "_" or "-" (64 at most)`);
      if (!state.outputs.has(name) && state.outputs.size >= MAX_OUTPUTS) throw new RangeError(`Cannot set output "${name}": a run has at most ${MAX_OUTPUTS} outputs`);
      let copy: unknown;
      try {
        // Cloned now so a bad value fails where it is set, and later mutation does not change it.
        copy = structuredClone(value);
      } catch (error) {
        throw new TypeError(`Cannot set output "${name}": the value cannot be cloned (${errorMessage(error)})`);
      }
      if (state.finished) return;
      if (options?.sensitive === true) {
        // Masked everywhere else; sent as {"$sensitive": value} for the controller to seal.
        for (const text of stringsOf(copy)) mask(text);
        state.outputs.set(name, { [SENSITIVE]: copy });
      } else state.outputs.set(name, copy);
    },
    all(): Record<string, unknown> {
      return Object.fromEntries(state.outputs);
    },
  };
}

/** Every string inside a value (and the value as JSON), the forms a plugin might print. */
function stringsOf(value: unknown, depth = 0, out: string[] = []): string[] {
  if (depth === 0 && typeof value !== "string") {
    try {
      out.push(JSON.stringify(value));
    } catch {
      // Not JSON: its strings are still masked below.
    }
  }
  if (typeof value === "string") out.push(value);
  else if (value !== null && typeof value === "object" && depth < 16) for (const item of Object.values(value)) stringsOf(item, depth + 1, out);
  return out;
}

/**
 * The job's output: the action's return value, with the named outputs merged in. A plain object
 * return is merged (its own keys win); any other return value goes under `result`.
 */
export function mergeOutputs(returned: unknown, outputs: Map<string, unknown>): unknown {
  if (outputs.size === 0) return returned;
  const named = Object.fromEntries(outputs);
  if (returned === undefined) return named;
  if (returned !== null && typeof returned === "object" && Object.getPrototypeOf(returned) === Object.prototype) return { ...named, ...(returned as object) };
  return { ...named, result: returned };
}
