// An in-memory ActionContext for plugin authors' unit tests: call an action directly, without a
// worker or a runner, and inspect its log lines, steps, outputs and storage afterwards.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";
import type { ActionContext } from "./sdk.ts";

export interface TestContextOptions {
  jobId?: string;
  attempt?: number;
  signal?: AbortSignal;
  secrets?: Record<string, string>;
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

export interface TestContext extends ActionContext {
  readonly lines: Array<{ level: LogLevel; msg: string }>;
  readonly steps: StepUpdate[];
  readonly stored: Map<string, Uint8Array>;
}

export function createTestContext(options: TestContextOptions = {}): TestContext {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const steps: StepUpdate[] = [];
  const outputs = new Map<string, unknown>();
  const stored = new Map<string, Uint8Array>();
  const log = (level: LogLevel) => (msg: string): void => { lines.push({ level, msg }); };
  const signal = options.signal ?? new AbortController().signal;
  return {
    jobId: options.jobId ?? "test-job",
    attempt: options.attempt ?? 1,
    signal,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    step: (update) => { steps.push({ ...update }); },
    outputs: {
      set: (name, value) => { outputs.set(name, structuredClone(value)); },
      all: () => Object.fromEntries(outputs),
    },
    secrets: {
      get: async (ref) => {
        const value = options.secrets?.[ref];
        if (value === undefined) throw Object.assign(new Error(`Cannot resolve secret "${ref}": the job has no such secret`), { code: "secret_not_found" });
        return value;
      },
    },
    storage: {
      put: async (key, data) => { stored.set(key, typeof data === "string" ? new TextEncoder().encode(data) : data.slice()); },
      get: async (key) => stored.get(key)?.slice(),
      getText: async (key) => { const bytes = stored.get(key); return bytes === undefined ? undefined : new TextDecoder().decode(bytes); },
      delete: async (key) => stored.delete(key),
      list: async (prefix = "") => [...stored.keys()].filter((k) => k.startsWith(prefix)).sort(),
    },
    fetch: (input, init) => (options.fetch ?? fetch)(input, { ...init, signal: init?.signal ?? signal }),
    lines,
    steps,
    stored,
  };
}
