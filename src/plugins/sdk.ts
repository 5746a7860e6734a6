// The plugin author's contract: a module whose default export is `definePlugin({...})`. Kept
// small on purpose; it is the only shape worker-entry.ts relies on.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";

export type { LogLevel, StepStatus, StepUpdate } from "../protocol/edge-v1.ts";

/** What an action gets besides its input: identity, cancellation, and the job's log and steps. */
export interface ActionContext {
  readonly jobId: string;
  /** With `jobId` the idempotency key: an attempt may run again after a lost lease. */
  readonly attempt: number;
  /** Aborted on cancel or timeout; the action should stop soon after (grace, then terminate). */
  readonly signal: AbortSignal;
  readonly log: Readonly<Record<LogLevel, (msg: string) => void>>;
  step(update: StepUpdate): void;
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
