// Shared test helpers for the plugin pool: a pool wired to the fixtures, a run request with
// recorded logs and steps, timers fired by hand, and a bounded wait for asynchronous state.

import { fileURLToPath } from "node:url";
import { memoryLogger, type LogRecord } from "../../../src/log/logger.ts";
import { PluginPool, type PluginPoolOptions, type RunRequest } from "../../../src/plugins/pool.ts";
import { fileBundleSource } from "../../../src/plugins/plugin-ref.ts";
import type { Timers } from "../../../src/util/time.ts";
import type { LogLine, StepUpdate } from "../../../src/protocol/edge-v1.ts";

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}.ts`, import.meta.url));

/** A pool whose non-built-in plugins are the fixture files of the same name. */
export function testPool(options: Partial<PluginPoolOptions> = {}): { pool: PluginPool; records: LogRecord[] } {
  const { logger, records } = memoryLogger();
  const pool = new PluginPool({
    idleMs: 60_000,
    cancelGraceMs: 100,
    logger,
    resolve: (ref) => fileBundleSource(fixture(ref.name), ref.name, ref.version ?? "0.0.1"),
    ...options,
  });
  return { pool, records };
}

export interface RecordedRequest extends RunRequest {
  logs: LogLine[];
  steps: StepUpdate[];
}

export function request(plugin: string, action: string, fields: Partial<RunRequest> = {}): RecordedRequest {
  const logs: LogLine[] = [];
  const steps: StepUpdate[] = [];
  return {
    jobId: `${plugin}-${action}`,
    attempt: 1,
    plugin,
    action,
    input: null,
    timeoutMs: 10_000,
    signal: new AbortController().signal,
    onLog: (line) => logs.push(line),
    onStep: (step) => steps.push(step),
    ...fields,
    logs,
    steps,
  };
}

/** Timers that fire only when a test says so; `fire(ms)` runs every pending timer set for `ms`. */
export class ManualTimers implements Pick<Timers, "now" | "setTimeout" | "clearTimeout"> {
  readonly #pending = new Map<number, { callback: () => void; ms: number }>();
  #next = 1;

  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.set(id, { callback, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  count(ms: number): number {
    let n = 0;
    for (const t of this.#pending.values()) if (t.ms === ms) n++;
    return n;
  }

  fire(ms: number): number {
    const due = [...this.#pending].filter(([, t]) => t.ms === ms);
    for (const [id, t] of due) {
      this.#pending.delete(id);
      t.callback();
    }
    return due.length;
  }
}

/** Waits until `condition` holds; fails after `limitMs` (a bound against hangs, not a timing assertion). */
export async function waitFor(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
