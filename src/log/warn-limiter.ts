// Rate limit for repeated warnings (what a peer sends, a nearly full disk): the first few in each window are
// logged, the rest only counted, and the next logged one says how many were suppressed. Keyed by
// a small fixed set of kinds (never by the peer's text, which would grow without bound).

export interface WarnLimiterOptions {
  /** Warnings logged per key and window. */
  burst: number;
  windowMs: number;
  now: () => number;
}

export interface WarnDecision {
  log: boolean;
  /** Warnings of this key dropped since the last one logged (report it with the next). */
  suppressed: number;
}

/** Keys kept at most; a limiter per session sees a handful of kinds, this only bounds misuse. */
const MAX_KEYS = 64;

export class WarnLimiter {
  readonly #options: WarnLimiterOptions;
  readonly #state = new Map<string, { windowStart: number; logged: number; suppressed: number }>();

  constructor(options: Partial<WarnLimiterOptions> = {}) {
    this.#options = { burst: options.burst ?? 5, windowMs: options.windowMs ?? 60_000, now: options.now ?? Date.now };
  }

  /** Whether to log this occurrence of `key`, and how many were suppressed before it. */
  allow(key: string): WarnDecision {
    const now = this.#options.now();
    let state = this.#state.get(key);
    if (state === undefined) {
      if (this.#state.size >= MAX_KEYS) this.#state.delete(this.#state.keys().next().value as string);
      this.#state.set(key, (state = { windowStart: now, logged: 0, suppressed: 0 }));
    }
    if (now - state.windowStart >= this.#options.windowMs) {
      state.windowStart = now;
      state.logged = 0;
    }
    if (state.logged < this.#options.burst) {
      state.logged++;
      const suppressed = state.suppressed;
      state.suppressed = 0;
      return { log: true, suppressed };
    }
    state.suppressed++;
    return { log: false, suppressed: state.suppressed };
  }
}

/** Cuts a value from outside to `max` characters for a log field, saying how much was cut. */
export function clip(value: string, max = 256): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length - max} more characters)`;
}
