// The warm-pool policy per plugin: max workers, jobs per worker, idle time, pre-warm, isolation
// and memory ceiling. One "default" entry, overridden per plugin name or per name@version:
//   {"default": {"maxWorkers": 4}, "http": {"prewarm": 1}, "hello@1.0.0": {"isolation": "process"}}

import { EdgeError, errorMessage } from "../errors.ts";
import { BUILTIN_PLUGINS } from "./builtin/names.ts";
import { parsePluginRef } from "./plugin-ref.ts";
import { MAX_TIMER_MS } from "../util/time.ts";

export type Isolation = "thread" | "process";

export interface PluginPolicy {
  /** Workers of this plugin at once; more jobs wait in a FIFO queue. */
  maxWorkers: number;
  /** A worker is replaced after this many jobs, which bounds slow leaks. */
  maxJobsPerWorker: number;
  /** A worker idle this long is stopped. */
  idleMs: number;
  /** Workers started when the runner starts (needs name@version for a bundle). */
  prewarm: number;
  /** "thread": a Worker thread (default); "process": a child process with its own memory. */
  isolation: Isolation;
  /** A worker whose heap (thread) or resident memory (process) passes this is replaced; undefined: none. */
  memoryCeilingMb?: number;
}

const FIELDS: Record<keyof PluginPolicy, (value: unknown) => boolean> = {
  maxWorkers: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1024,
  maxJobsPerWorker: (v) => Number.isInteger(v) && (v as number) >= 1,
  idleMs: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_TIMER_MS,
  prewarm: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1024,
  isolation: (v) => v === "thread" || v === "process",
  memoryCeilingMb: (v) => Number.isInteger(v) && (v as number) >= 16,
};
const EXPECTED: Record<keyof PluginPolicy, string> = {
  maxWorkers: "an integer from 1 to 1024",
  maxJobsPerWorker: "a positive integer",
  idleMs: "a positive integer of milliseconds",
  prewarm: "an integer from 0 to 1024",
  isolation: `"thread" or "process"`,
  memoryCeilingMb: "an integer of at least 16 (MiB)",
};

/** The policy of every plugin, looked up by `name@version`, then `name`, then "default". */
export class PoolPolicy {
  readonly #defaults: PluginPolicy;
  readonly #entries: ReadonlyMap<string, Partial<PluginPolicy>>;

  constructor(defaults: PluginPolicy, entries: ReadonlyMap<string, Partial<PluginPolicy>> = new Map()) {
    this.#defaults = Object.freeze({ ...defaults });
    this.#entries = entries;
  }

  /** `name` and, for a bundle, `version`. */
  for(name: string, version?: string): PluginPolicy {
    const byName = this.#entries.get(name);
    const byVersion = version === undefined ? undefined : this.#entries.get(`${name}@${version}`);
    if (byName === undefined && byVersion === undefined) return this.#defaults;
    return { ...this.#defaults, ...byName, ...byVersion };
  }

  /** Plugin references to start workers for at start, with how many. */
  prewarmList(): Array<{ plugin: string; count: number }> {
    const out: Array<{ plugin: string; count: number }> = [];
    for (const [key, entry] of this.#entries) {
      const ref = parsePluginRef(key);
      const count = this.for(ref.name, ref.version).prewarm;
      if (count > 0 && entry.prewarm !== undefined) out.push({ plugin: key, count });
    }
    return out;
  }
}

/**
 * Parses the `pluginPolicy` option: JSON text (starting with "{") or the path of a JSON file.
 * Throws EdgeError `config_invalid` naming the entry and field.
 */
export function parsePoolPolicy(value: string | undefined, defaults: PluginPolicy, readText: (path: string) => string): PoolPolicy {
  if (value === undefined || value.trim() === "") return new PoolPolicy(defaults);
  const fromFile = !value.trimStart().startsWith("{");
  const where = fromFile ? `file "${value}"` : "JSON";
  let raw: unknown;
  try {
    raw = JSON.parse(fromFile ? readText(value) : value);
  } catch (error) {
    throw new EdgeError("config_invalid", `Cannot read "pluginPolicy" ${where}: ${errorMessage(error)}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" ${where}: expected an object of plugin names to policies`);
  const entries = new Map<string, Partial<PluginPolicy>>();
  let base = defaults;
  for (const [key, entry] of Object.entries(raw as Record<string, unknown>)) {
    const checked = checkEntry(key, entry);
    if (key === "default") {
      if (checked.prewarm !== undefined && checked.prewarm > 0) throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "default": "prewarm" applies to a named plugin only`);
      base = { ...base, ...checked };
      continue;
    }
    let ref;
    try {
      ref = parsePluginRef(key);
    } catch {
      throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "${key}": expected "default", a plugin name or name@version`);
    }
    if ((checked.prewarm ?? 0) > 0 && ref.version === undefined && !BUILTIN_PLUGINS.has(ref.name)) {
      throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "${key}": pre-warming a plugin bundle needs its version ("${key}@1.2.3")`);
    }
    entries.set(key, checked);
  }
  return new PoolPolicy(base, entries);
}

function checkEntry(key: string, entry: unknown): Partial<PluginPolicy> {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "${key}": expected an object`);
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(entry as Record<string, unknown>)) {
    const check = Object.hasOwn(FIELDS, field) ? FIELDS[field as keyof PluginPolicy] : undefined;
    if (check === undefined) throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "${key}": unknown field "${field}" (known: ${Object.keys(FIELDS).join(", ")})`);
    if (!check(value)) throw new EdgeError("config_invalid", `Cannot use "pluginPolicy" entry "${key}": "${field}" must be ${EXPECTED[field as keyof PluginPolicy]}, got ${JSON.stringify(value)}`);
    out[field] = value;
  }
  return out as Partial<PluginPolicy>;
}
