// The plugin author's contract: a module whose default export is `definePlugin({...})`, and the
// types of what an action receives. Kept small on purpose; it is the only shape the worker relies on.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";

export type { LogLevel, StepStatus, StepUpdate } from "../protocol/edge-v1.ts";

/** Named outputs of a run: merged into the job's output, and kept even when the action fails. */
export interface ActionOutputs {
  /** Sets output `name` (a letter, then letters, digits, `_` or `-`); the value must be structured-cloneable. */
  set(name: string, value: unknown): void;
  /** The outputs set so far, as a fresh object. */
  all(): Record<string, unknown>;
}

/** Secrets asked for by reference; values are resolved by the runner and never appear in logs. */
export interface ActionSecrets {
  /** Rejects with code `secret_not_found` when the job has no such secret. */
  get(ref: string): Promise<string>;
}

/**
 * Intermediate data of one job attempt, kept by the runner (a local directory today, S3-compatible
 * storage later) and deleted when the job ends, whatever its result. Keys are 1 to 200 characters
 * of letters, digits and `._-/`, without `..` segments.
 */
export interface ActionStorage {
  put(key: string, data: Uint8Array | string): Promise<void>;
  /** The bytes stored under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The stored bytes decoded as UTF-8, or undefined. */
  getText(key: string): Promise<string | undefined>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix` (default: all), sorted. */
  list(prefix?: string): Promise<string[]>;
}

/** What an action gets besides its input: identity, cancellation, the job's log, steps and outputs, secrets, storage, fetch. */
export interface ActionContext {
  readonly jobId: string;
  /** With `jobId` the idempotency key: an attempt may run again after a lost lease. */
  readonly attempt: number;
  /** Aborted on cancel or timeout; the action should stop soon after (grace, then terminate). */
  readonly signal: AbortSignal;
  readonly log: Readonly<Record<LogLevel, (msg: string) => void>>;
  step(update: StepUpdate): void;
  readonly outputs: ActionOutputs;
  readonly secrets: ActionSecrets;
  readonly storage: ActionStorage;
  /** The global fetch, aborted with the job (a caller's own `signal` is combined with it). */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

export type Action = (input: unknown, ctx: ActionContext) => unknown | Promise<unknown>;

export interface PluginDefinition {
  readonly name: string;
  readonly version: string;
  readonly actions: Readonly<Record<string, Action>>;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Checks and freezes a plugin definition; throws a TypeError naming the first bad field. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  const { name, version, actions } = definition ?? ({} as PluginDefinition);
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new TypeError(`Cannot define plugin "${String(name)}": name must match ${NAME}`);
  }
  if (typeof version !== "string" || version === "") {
    throw new TypeError(`Cannot define plugin "${name}": version must be a non-empty string`);
  }
  if (actions === null || typeof actions !== "object" || Object.keys(actions).length === 0) {
    throw new TypeError(`Cannot define plugin "${name}": actions must name at least one function`);
  }
  for (const [key, action] of Object.entries(actions)) {
    if (typeof action !== "function") throw new TypeError(`Cannot define plugin "${name}": action "${key}" is not a function`);
  }
  return Object.freeze({ name, version, actions: Object.freeze({ ...actions }) });
}

/** True for a value that looks like `definePlugin()`'s result (a bundle may carry its own copy of the SDK). */
export function isPluginDefinition(value: unknown): value is PluginDefinition {
  if (value === null || typeof value !== "object") return false;
  const v = value as Partial<PluginDefinition>;
  return typeof v.name === "string" && typeof v.version === "string" && v.actions !== null && typeof v.actions === "object";
}
