// The loop that expires leases and ends silent long-poll sessions. Its clock and timer are
// injected: tests call `tick()` after moving a fake clock instead of waiting.

import type { Clock, Timers } from "../util/time.ts";

export interface LeaseSweeperOptions {
  clock: Clock;
  timer: Pick<Timers, "setTimeout" | "clearTimeout">;
  /** Longest sleep between ticks (a new lease may expire sooner than the known next expiry). */
  intervalMs: number;
  /** Epoch ms of the next known lease expiry, if any. */
  nextExpiry: () => number | undefined;
  /** Does the work; errors are reported to `onError` and the loop goes on. */
  onTick: () => void;
  onError: (error: unknown) => void;
}

export class LeaseSweeper {
  readonly #options: LeaseSweeperOptions;
  #handle: unknown;
  #running = false;

  constructor(options: LeaseSweeperOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    if (this.#handle !== undefined) this.#options.timer.clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  /** One sweep now. */
  tick(): void {
    try {
      this.#options.onTick();
    } catch (error) {
      this.#options.onError(error);
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    const { clock, timer, intervalMs, nextExpiry } = this.#options;
    const next = nextExpiry();
    const delay = next === undefined ? intervalMs : Math.max(0, Math.min(intervalMs, next - clock.now() + 1));
    this.#handle = timer.setTimeout(() => {
      this.#handle = undefined;
      this.tick();
      this.#schedule();
    }, delay);
  }
}
