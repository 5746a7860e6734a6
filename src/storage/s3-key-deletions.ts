// How the S3 backend deletes a batch of listed keys: one DeleteObjects request (POST ?delete) where
// the store has it, and one DeleteObject per key, a few at a time, where the store says it does
// not implement it (Google Cloud Storage's XML API answered NotImplemented with HTTP 400, other
// stores answer 501 or 405). Without that fallback a job's prefix on such a store was never deleted.

import type { DeleteObjectsOutput } from "@aws-sdk/client-s3";

/**
 * Whether this store is sent DeleteObjects. It starts at "batch" and turns to "one_by_one" for
 * good the first time the store refuses the request as not implemented: asking again at every
 * deletion would cost a refused request each time and tell nothing new.
 */
export type BatchDeleteSupport = "batch" | "one_by_one";

export interface KeyDeletionRequests {
  /** One DeleteObjects request for `keys` (full keys, at most 1,000). */
  batch(keys: string[], signal: AbortSignal | undefined): Promise<DeleteObjectsOutput>;
  /** One DeleteObject request; a key already gone resolves (some stores answer 404 for it). */
  one(key: string, signal: AbortSignal | undefined): Promise<void>;
}

export class S3KeyDeletions {
  #support: BatchDeleteSupport = "batch";
  readonly #requests: KeyDeletionRequests;
  readonly #oneAtATime: number;

  /** `oneAtATime`: DeleteObject requests one call keeps in flight after the fallback. */
  constructor(requests: KeyDeletionRequests, oneAtATime: number) {
    this.#requests = requests;
    this.#oneAtATime = oneAtATime;
  }

  get support(): BatchDeleteSupport {
    return this.#support;
  }

  /**
   * Deletes `keys`; resolves with the per-key errors of a DeleteObjects answer (none after the
   * fallback, whose first failed request rejects). The caller has checked every key lies under
   * the prefix it deletes: this deletes exactly the keys it is given.
   */
  async delete(keys: string[], signal?: AbortSignal): Promise<NonNullable<DeleteObjectsOutput["Errors"]>> {
    if (this.#support === "batch") {
      try {
        return (await this.#requests.batch(keys, signal)).Errors ?? [];
      } catch (error) {
        if (!refusesBatchDelete(error)) throw error;
        this.#support = "one_by_one";
      }
    }
    await this.#eachKey(keys, signal);
    return [];
  }

  /** One DeleteObject per key, at most #oneAtATime in flight; the first failure stops new ones and is thrown once those in flight have ended. */
  async #eachKey(keys: string[], signal: AbortSignal | undefined): Promise<void> {
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < keys.length) {
        if (signal?.aborted === true) {
          failure = { error: signal.reason };
          return;
        }
        const key = keys[next++] as string;
        try {
          await this.#requests.one(key, signal);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#oneAtATime, keys.length) }, worker));
    if (failure !== undefined) throw failure.error;
  }
}

/**
 * True when the store's answer to DeleteObjects says the request itself is not implemented:
 * the S3 error code NotImplemented (Google Cloud Storage's XML API sends it with HTTP 400),
 * HTTP 501, or HTTP 405 (MethodNotAllowed, a store or a proxy in front of it refusing POST).
 * A denied, throttled or failing request is not: it is the same for DeleteObject, and falling
 * back would hide it behind a thousand single requests.
 */
export function refusesBatchDelete(error: unknown): boolean {
  const e = error as { name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return e?.name === "NotImplemented" || e?.Code === "NotImplemented" || status === 501 || status === 405;
}
