// Decrypts a job's encrypted inputs ({"$secret": JWE}) just before the run, registers each
// plaintext with the job's redaction, and hands the plain input to the executor. A value the
// runner cannot decrypt fails the job at once (secret_undecryptable), without starting a plugin.

import { serializeError } from "../errors.ts";
import { redactor } from "../log/redact.ts";
import { decryptInputSecrets, hasInputSecrets } from "../secrets/input-secrets.ts";
import type { RunnerKeyRing } from "../secrets/key-ring.ts";
import type { ExecuteOutcome, ExecuteRequest, JobExecutor } from "./job-executor.ts";

export class SecretInputsExecutor implements JobExecutor {
  readonly #inner: JobExecutor;
  readonly #ring: () => RunnerKeyRing;

  constructor(inner: JobExecutor, ring: () => RunnerKeyRing) {
    this.#inner = inner;
    this.#ring = ring;
  }

  async run(request: ExecuteRequest): Promise<ExecuteOutcome> {
    if (!hasInputSecrets(request.input)) return this.#inner.run(request);
    const scope = (request as { redaction?: { add(value: string): void } }).redaction ?? redactor;
    let input: unknown;
    try {
      input = await decryptInputSecrets(request.input, this.#ring(), scope);
    } catch (error) {
      return { status: "failed", error: serializeError(error) };
    }
    return this.#inner.run({ ...request, input });
  }

  workers(): ReturnType<JobExecutor["workers"]> {
    return this.#inner.workers();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
