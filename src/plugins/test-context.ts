// An in-memory ActionContext for plugin authors' unit tests: call an action directly, without a
// worker or a runner, and inspect its log lines, steps, outputs and storage afterwards.

import type { LogLevel, StepUpdate } from "../protocol/edge-v1.ts";
import { createHash } from "node:crypto";
import type { ActionContext, ArtifactInfo, ObjectOptions, StorageData, StoredObjectInfo } from "./sdk.ts";

export interface TestContextOptions {
  jobId?: string;
  attempt?: number;
  signal?: AbortSignal;
  secrets?: Record<string, string>;
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** ctx.artifacts.maxBytes (default 100 MiB, the runner's default): a larger put fails with `storage_limit`, as on a runner. */
  artifactMaxBytes?: number;
}

export interface TestContext extends ActionContext {
  readonly lines: Array<{ level: LogLevel; msg: string }>;
  readonly steps: StepUpdate[];
  readonly stored: Map<string, Uint8Array>;
  /** Artifacts kept with ctx.artifacts.put, by name. */
  readonly artifactsKept: Map<string, { bytes: Uint8Array; info: ArtifactInfo }>;
  /** Values given to ctx.secrets.mask(). */
  readonly masked: string[];
  /** Names of outputs set with {sensitive: true}. */
  readonly sensitive: Set<string>;
}

async function bytesOf(data: StorageData): Promise<Uint8Array> {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data.slice();
  return new Uint8Array(await new Response(data).arrayBuffer());
}

export function createTestContext(options: TestContextOptions = {}): TestContext {
  const lines: Array<{ level: LogLevel; msg: string }> = [];
  const steps: StepUpdate[] = [];
  const outputs = new Map<string, unknown>();
  const stored = new Map<string, Uint8Array>();
  const meta = new Map<string, ObjectOptions & { lastModified: number }>();
  const artifactsKept = new Map<string, { bytes: Uint8Array; info: ArtifactInfo }>();
  const infoOf = (key: string, bytes: Uint8Array): StoredObjectInfo => {
    const m = meta.get(key);
    return { key, size: bytes.byteLength, lastModified: m?.lastModified ?? 0, ...(m?.contentType === undefined ? {} : { contentType: m.contentType }), ...(m?.metadata === undefined ? {} : { metadata: m.metadata }) };
  };
  const masked: string[] = [];
  const sensitive = new Set<string>();
  const log = (level: LogLevel) => (msg: string): void => { lines.push({ level, msg }); };
  const signal = options.signal ?? new AbortController().signal;
  const artifactMaxBytes = options.artifactMaxBytes ?? 100 * 1024 * 1024;
  return {
    jobId: options.jobId ?? "test-job",
    attempt: options.attempt ?? 1,
    signal,
    log: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    step: (update) => { steps.push({ ...update }); },
    outputs: {
      set: (name, value, setOptions) => {
        outputs.set(name, structuredClone(value));
        if (setOptions?.sensitive === true) sensitive.add(name);
      },
      all: () => Object.fromEntries(outputs),
    },
    secrets: {
      get: async (ref) => {
        const value = options.secrets?.[ref];
        if (value === undefined) throw Object.assign(new Error(`Cannot resolve secret "${ref}": the job has no such secret`), { code: "secret_not_found" });
        return value;
      },
      mask: (value) => { masked.push(value); },
    },
    storage: {
      put: async (key, data, options) => {
        const bytes = await bytesOf(data);
        stored.set(key, bytes);
        meta.set(key, { ...options, lastModified: Date.now() });
        return bytes.byteLength;
      },
      get: async (key) => stored.get(key)?.slice(),
      getText: async (key) => { const bytes = stored.get(key); return bytes === undefined ? undefined : new TextDecoder().decode(bytes); },
      getStream: async (key) => {
        const bytes = stored.get(key);
        return bytes === undefined ? undefined : { info: infoOf(key, bytes), body: new Response(bytes.slice()).body as ReadableStream<Uint8Array> };
      },
      head: async (key) => { const bytes = stored.get(key); return bytes === undefined ? undefined : infoOf(key, bytes); },
      delete: async (key) => { meta.delete(key); return stored.delete(key); },
      list: async (prefix = "") => [...stored.keys()].filter((k) => k.startsWith(prefix)).sort(),
    },
    artifacts: {
      maxBytes: artifactMaxBytes,
      put: async (name, data, options) => {
        const bytes = await bytesOf(data);
        if (bytes.byteLength > artifactMaxBytes) {
          throw Object.assign(new Error(`Cannot keep artifact "${name}": it is ${bytes.byteLength} bytes, over the limit of ${artifactMaxBytes} bytes`), { code: "storage_limit" });
        }
        const info: ArtifactInfo = { name, size: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex"), ...(options?.contentType === undefined ? {} : { contentType: options.contentType }) };
        artifactsKept.set(name, { bytes, info });
        return info;
      },
    },
    fetch: (input, init) => (options.fetch ?? fetch)(input, { ...init, signal: init?.signal ?? signal }),
    lines,
    steps,
    stored,
    artifactsKept,
    masked,
    sensitive,
  };
}
