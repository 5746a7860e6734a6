// The host's answers to a running action's ctx.secrets and ctx.storage calls, for one job:
// secrets come from the job's resolver and are registered with the redactor before the plugin
// sees them; storage is opened on first use and deleted when the job ends.

import { EdgeError } from "../errors.ts";
import { redactor } from "../log/redact.ts";
import { checkStorageKey, type JobStorage, type JobStorageProvider, type SecretResolver } from "./run-services.ts";
import type { HostCall } from "./worker-protocol.ts";

/** Largest value one ctx.storage.put() may store (it crosses the worker boundary in one message). */
export const MAX_STORAGE_VALUE_BYTES = 256 * 1024 * 1024;

export class JobCalls {
  readonly #job: { jobId: string; attempt: number };
  readonly #secrets: SecretResolver;
  readonly #provider: JobStorageProvider;
  readonly #signal: AbortSignal;
  #storage: JobStorage | undefined;
  #closed = false;

  constructor(options: { jobId: string; attempt: number; secrets: SecretResolver; storage: JobStorageProvider; signal: AbortSignal }) {
    this.#job = { jobId: options.jobId, attempt: options.attempt };
    this.#secrets = options.secrets;
    this.#provider = options.storage;
    this.#signal = options.signal;
  }

  async answer(call: HostCall): Promise<unknown> {
    if (this.#closed) throw new EdgeError("job_cancelled", `Cannot answer "${call.op}" for job "${this.#job.jobId}": the job has ended`);
    switch (call.op) {
      case "secret.get": {
        const value = await this.#secrets.get(String(call.ref), this.#signal);
        // Registered before the plugin can print it: every log line and error passes the redactor.
        redactor.add(value);
        return value;
      }
      case "storage.put": {
        const key = checkStorageKey(call.key, "store");
        if (!(call.data instanceof Uint8Array)) throw new EdgeError("input_invalid", `Cannot store "${key}": data must be bytes or a string`);
        if (call.data.byteLength > MAX_STORAGE_VALUE_BYTES) throw new EdgeError("input_invalid", `Cannot store "${key}": ${call.data.byteLength} bytes is over the limit of ${MAX_STORAGE_VALUE_BYTES}`);
        return this.#open().put(key, call.data);
      }
      case "storage.get":
        return this.#open().get(checkStorageKey(call.key, "read"));
      case "storage.delete":
        return this.#open().delete(checkStorageKey(call.key, "delete"));
      case "storage.list":
        return this.#open().list(typeof call.prefix === "string" ? call.prefix : "");
      default:
        throw new EdgeError("input_invalid", `Cannot answer host call "${String((call as { op?: unknown }).op)}": unknown operation`);
    }
  }

  /** The job ended: refuse further calls and delete its intermediate data. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#storage?.destroy();
  }

  #open(): JobStorage {
    this.#storage ??= this.#provider.open(this.#job);
    return this.#storage;
  }
}
