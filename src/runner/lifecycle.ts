// The runner's lifecycle as a named state union with one guarded transition function: every
// change is logged, and an illegal one throws (a bug, not a condition to handle).

import type { Logger } from "../log/logger.ts";
export type RunnerState = "starting" | "connecting" | "ready" | "draining" | "stopped" | "failed";

const ALLOWED: Record<RunnerState, readonly RunnerState[]> = {
  starting: ["connecting", "draining", "stopped", "failed"],
  connecting: ["ready", "draining", "stopped", "failed"],
  ready: ["connecting", "draining", "stopped", "failed"],
  draining: ["stopped", "failed"],
  stopped: [],
  failed: [],
};

export class Lifecycle {
  #state: RunnerState = "starting";
  #since: number;
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(options: { logger: Logger; now?: () => number }) {
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#since = this.#now();
  }

  get state(): RunnerState {
    return this.#state;
  }

  get since(): number {
    return this.#since;
  }

  /** Moves to `next`; a no-op if already there; throws on a transition the table forbids. */
  transition(next: RunnerState, reason?: string): void {
    if (next === this.#state) return;
    if (!ALLOWED[this.#state].includes(next)) {
      throw new Error(`Illegal runner state transition "${this.#state}" → "${next}"`);
    }
    const from = this.#state;
    this.#state = next;
    this.#since = this.#now();
    this.#logger.info(`Runner ${from} → ${next}`, reason === undefined ? { from, to: next } : { from, to: next, reason });
  }

  canTransition(next: RunnerState): boolean {
    return next === this.#state || ALLOWED[this.#state].includes(next);
  }

}
