// An abortable sleep and a timer interface, so loops can be driven by fake timers in tests.

export interface Timers {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest delay a timer takes: Bun fires a setTimeout above 2^31-1 ms after 1 ms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A delay any timer takes as meant: NaN and negatives are 0, past the maximum it is the maximum. */
export function safeDelayMs(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return ms === Number.POSITIVE_INFINITY ? MAX_TIMER_DELAY_MS : 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, safeDelayMs(ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export const realTimers: Timers = { now: Date.now, sleep };
