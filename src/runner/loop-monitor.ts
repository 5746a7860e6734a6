// Liveness of the runner's loops: each loop ticks, /healthz reports a loop that stopped ticking.

export interface LoopInfo {
  name: string;
  /** Epoch ms of the loop's last tick; /healthz fails when a loop stops ticking. */
  lastTickAt: number;
  /** How stale the tick may be before the loop counts as stuck. */
  maxSilenceMs: number;
}

export class LoopMonitor {
  readonly #loops = new Map<string, LoopInfo>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  tick(name: string, maxSilenceMs: number): void {
    const loop = this.#loops.get(name);
    if (loop === undefined) this.#loops.set(name, { name, lastTickAt: this.#now(), maxSilenceMs });
    else {
      loop.lastTickAt = this.#now();
      loop.maxSilenceMs = maxSilenceMs;
    }
  }

  /** A loop that ended on purpose (e.g. heartbeats while disconnected) is no longer watched. */
  remove(name: string): void {
    this.#loops.delete(name);
  }

  list(): LoopInfo[] {
    return [...this.#loops.values()].map((loop) => ({ ...loop }));
  }
}
