// What the host gives a running action besides its input: secrets by reference (job storage is
// src/storage/, artifacts src/artifacts/). An interface here, so a Vault resolver plugs in
// without touching the pool.

import { EdgeError } from "../errors.ts";

/** Resolves a secret reference for one job; rejects with EdgeError `secret_not_found`. */
export interface SecretResolver {
  get(ref: string, signal: AbortSignal): Promise<string>;
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
