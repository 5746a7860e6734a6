// Reconnect backoff with full jitter (wait a random time below an exponentially growing
// ceiling), raised to at least a server's Retry-After. Random and clock are injected for tests.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions) {
    this.#minMs = options.minMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  get failures(): number {
    return this.#failures;
  }

  /** The wait before the next attempt; counts one more failure. */
  next(retryAfterMs?: number): number {
    const ceiling = Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    const jittered = Math.floor(this.#random() * ceiling);
    // A Retry-After raises the wait, never past the ceiling: a server cannot park the runner
    // longer than its own reconnect bound, nor pass a timer an overflowing delay.
    if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return jittered;
    return Math.max(jittered, Math.min(this.#maxMs, Math.max(0, retryAfterMs)));
  }

  /** The longest wait: used after 401/403, which another try in a moment will not fix. */
  ceiling(): number {
    this.#failures++;
    return this.#maxMs;
  }

  reset(): void {
    this.#failures = 0;
  }
}

/** Parses a Retry-After header (delta seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header === null || header === undefined || header.trim() === "") return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
