// Notices that the controller's process was not running for a while (SIGSTOP, a frozen VM, a
// stalled host): the sweep loop beats at least every second, so a much longer gap between two
// looks at a monotonic clock means the process was away, and leases lapsed because of it.

export interface PauseDetectorOptions {
  /** Monotonic milliseconds (default `performance.now`): immune to wall-clock steps. */
  monotonic?: () => number;
  /** A gap longer than this between two looks is a pause. */
  thresholdMs: number;
  onPause: (gapMs: number) => void;
}

export class PauseDetector {
  readonly #monotonic: () => number;
  readonly #thresholdMs: number;
  readonly #onPause: (gapMs: number) => void;
  /**
   * Unset until the sweep loop starts (`arm`): without a loop beating, a gap means nothing. Armed
   * at the start, not at the loop's first tick: a pause within the first interval (the controller
   * stopped a second after it started) must count like any other.
   */
  #last: number | undefined;

  constructor(options: PauseDetectorOptions) {
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#thresholdMs = options.thresholdMs;
    this.#onPause = options.onPause;
  }

  /** Called when the sweep loop starts: from now on a long gap is a pause. */
  arm(): void {
    this.#last ??= this.#monotonic();
  }

  /** Called by the sweep loop on each tick (arms the detector if `arm` was not called). */
  beat(): void {
    this.arm();
    this.check();
  }

  /**
   * Called before any lease decision (a sweep, a runner's frame): reports a pause first, so a
   * frame read right after one never finds a lease expired by the pause itself.
   */
  check(): void {
    if (this.#last === undefined) return;
    const now = this.#monotonic();
    const gap = now - this.#last;
    this.#last = now;
    if (gap > this.#thresholdMs) this.#onPause(gap);
  }

  stop(): void {
    this.#last = undefined;
  }
}
