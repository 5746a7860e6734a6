// The plugin author's contract: a module whose default export is `definePlugin({...})`, and the
// types of what an action receives. Kept small on purpose; it is the only shape the worker relies on.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";

export type { LogLevel, StepStatus, StepUpdate } from "../protocol/edge-v1.ts";

/** Named outputs of a run: merged into the job's output, and kept even when the action fails. */
export interface ActionOutputs {
  /**
   * Sets output `name` (a letter, then letters, digits, `_` or `-`); the value must be
   * structured-cloneable. With `{sensitive: true}` the value is masked in every log, step and
   * error of the job, never shown by the runner, and stored encrypted by the controller.
   */
  set(name: string, value: unknown, options?: { sensitive?: boolean }): void;
  /** The outputs set so far, as a fresh object. */
  all(): Record<string, unknown>;
}

/** Secrets asked for by reference; values are resolved by the runner and never appear in logs. */
export interface ActionSecrets {
  /** Rejects with code `secret_not_found` when the job has no such secret. */
  get(ref: string): Promise<string>;
  /** Masks `value` (and its encoded forms) in everything the job writes from now on. */
  mask(value: string): void;
}

/** Content type and a little metadata (at most 16 lower-case names, 2 KiB in all) kept with an object. */
export interface ObjectOptions {
  contentType?: string;
  metadata?: Record<string, string>;
}

/** What `head` and `getStream` tell about a stored object. */
export interface StoredObjectInfo {
  key: string;
  size: number;
  lastModified: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

/** Bytes to store: a string (UTF-8), bytes, or a stream of bytes (never held whole in memory). */
export type StorageData = Uint8Array | string | ReadableStream<Uint8Array>;

/**
 * Intermediate data of one job attempt, kept by the runner (a local directory or an S3-compatible
 * bucket) and deleted when the attempt ends, whatever its result; calls after that are refused
 * with `storage_closed`. Keys are 1 to 200 characters of letters, digits and `._-/`, without `..`
 * segments. Past the runner's per-object or per-job size limit a put fails with `storage_limit`.
 */
export interface ActionStorage {
  /** Stores `data` under `key` (replacing it); resolves with the size stored. */
  put(key: string, data: StorageData, options?: ObjectOptions): Promise<number>;
  /** The bytes stored under `key`, or undefined (reads the whole object into memory: prefer getStream for large ones). */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The stored bytes decoded as UTF-8, or undefined. */
  getText(key: string): Promise<string | undefined>;
  /** The object as a stream read on demand, with its description, or undefined. */
  getStream(key: string): Promise<{ info: StoredObjectInfo; body: ReadableStream<Uint8Array> } | undefined>;
  /** The object's size, content type and metadata, or undefined. */
  head(key: string): Promise<StoredObjectInfo | undefined>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix` (default: all), sorted; at most 10,000. */
  list(prefix?: string): Promise<string[]>;
}

/** What the job's result records for one artifact. */
export interface ArtifactInfo {
  name: string;
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  contentType?: string;
}

/**
 * Named objects handed back with the job's result, such as a Terraform plan: they outlive the job
 * (the controller keeps them under its retention). Names are 1 to 128 letters, digits and `._-`;
 * each name once per attempt, at most 32, each under the runner's artifactMaxBytes.
 */
export interface ActionArtifacts {
  /**
   * The runner's artifactMaxBytes: put() fails with `storage_limit` at the byte past it. An action
   * that knows its data's size (a file's) can refuse a larger one before reading any of it.
   */
  readonly maxBytes: number;
  /** Streams `data` to the controller; resolves when it holds all of it, with the recorded size and digest. */
  put(name: string, data: StorageData, options?: { contentType?: string }): Promise<ArtifactInfo>;
}

/** What an action gets besides its input: identity, cancellation, the job's log, steps and outputs, secrets, storage, artifacts, fetch. */
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
  readonly artifacts: ActionArtifacts;
  /** fetch through the runner's forward proxy if it has one (on Node too, where the global fetch takes none), aborted with the job (a caller's own `signal` is combined with it). */
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
