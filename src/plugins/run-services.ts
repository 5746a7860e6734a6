// What the host gives a running action besides its input: secrets by reference and intermediate
// storage. Interfaces here, so a Vault resolver or an S3 store plugs in without touching the pool.

import { EdgeError } from "../errors.ts";

/** Resolves a secret reference for one job; rejects with EdgeError `secret_not_found`. */
export interface SecretResolver {
  get(ref: string, signal: AbortSignal): Promise<string>;
}

/** One job attempt's intermediate data. Keys are checked by the pool (checkStorageKey) before they get here. */
export interface JobStorage {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  /** Deletes everything of the job; later calls fail. Waits for calls in flight. */
  destroy(): Promise<void>;
}

/**
 * Where jobs keep intermediate data: a local directory (local-storage.ts) or, later, an
 * S3-compatible bucket under `<prefix>/<jobId>/<attempt>/`. Opened lazily on a job's first call.
 */
export interface JobStorageProvider {
  open(job: { jobId: string; attempt: number }): JobStorage;
  /** Removes what jobs of an earlier (crashed) process left behind. */
  sweep(): Promise<void>;
}

/** Secrets from the job's own `secrets` map (given by the controller); anything else is not found. */
export function jobSecretResolver(jobId: string, secrets: Readonly<Record<string, string>> | undefined): SecretResolver {
  return {
    async get(ref) {
      const value = secrets !== undefined && Object.hasOwn(secrets, ref) ? secrets[ref] : undefined;
      if (typeof value !== "string") throw new EdgeError("secret_not_found", `Cannot resolve secret "${ref}" for job "${jobId}": the job has no such secret`);
      return value;
    },
  };
}

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._/-]{0,199}$/;

/** Throws EdgeError `input_invalid` unless `key` is a storage key every backend can hold (no `..`, no absolute path). */
export function checkStorageKey(key: unknown, action: string): string {
  if (typeof key !== "string" || !KEY.test(key) || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new EdgeError("input_invalid", `Cannot ${action} "${String(key).slice(0, 100)}": a storage key is 1 to 200 characters of letters, digits and "._-/", not starting with "." or "/", without empty, "." or ".." segments`);
  }
  return key;
}
