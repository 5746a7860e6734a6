// Time for the reference controller, injected so tests drive lease expiry and runner status
// without waiting: a clock to read and a timer to schedule with.

export interface Clock {
  now(): number;
}

export interface Timer {
  set(callback: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemTimer: Timer = {
  set: (callback, delayMs) => {
    const handle = setTimeout(callback, delayMs);
    // A pending lease sweep or poll wait must not keep a CLI process alive on its own.
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
