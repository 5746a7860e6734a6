// Decrypts a job's encrypted inputs ({"$secret": JWE}) just before the run, registers each
// plaintext with the job's redaction, and hands the plain input to the executor. A value the
// runner cannot decrypt fails the job at once (secret_undecryptable), without starting a plugin.

import { serializeError } from "../errors.ts";
import { redactor } from "../log/redact.ts";
import { decryptInputSecrets, hasInputSecrets } from "../secrets/input-secrets.ts";
import type { RunnerKeyRing } from "../secrets/key-ring.ts";
import type { RunRequest } from "../plugins/pool-options.ts";
import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { JobExecutor } from "./job-executor.ts";

export class SecretInputsExecutor implements JobExecutor {
  readonly #inner: JobExecutor;
  readonly #ring: () => RunnerKeyRing;

  constructor(inner: JobExecutor, ring: () => RunnerKeyRing) {
    this.#inner = inner;
    this.#ring = ring;
  }

  async run(request: RunRequest): Promise<JobOutcome> {
    if (!hasInputSecrets(request.input)) return this.#inner.run(request);
    const scope = request.redaction ?? redactor;
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
