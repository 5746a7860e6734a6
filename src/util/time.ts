// The one time abstraction: read the clock, sleep (abortable), schedule a callback. Everything
// that waits or reads the time takes it injected, so tests drive time by hand; a part declares
// the subset it uses (Pick<Timers, ...>) so a fake implements only that.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface Timers extends Clock {
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Schedules `callback` after `ms`; a pending callback never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * The longest delay a timer keeps: setTimeout (and Node's AbortSignal.timeout) takes a 32-bit
 * signed delay and fires a longer one after 1 ms. A delay from input is refused past it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export const realTimers: Timers = {
  now: () => Date.now(),
  sleep,
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
