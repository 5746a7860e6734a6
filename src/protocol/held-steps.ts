// What a job's steps count, and what waits while a bounded queue of its log lines and steps is
// full, defined once for both such queues (the plugin thread's log window, src/plugins/log-window.ts,
// and the edge outbox, src/controller/edge/job-outbox.ts): lines are dropped and counted, a step
// update is held instead (a progress step only needs its latest state), and once there is room
// again (or the result follows) one line says how many were dropped, then the held steps go.

import type { StepUpdate } from "./edge-v1.ts";

/** Distinct steps whose latest update is held while the queue is full (each at most 64 KiB); later ones are counted as dropped. */
export const MAX_HELD_STEPS = 100;

/**
 * What one step counts towards a queue's bound: its envelope as JSON (~110 characters) and its
 * texts. Typed loosely because the runner's thread computes it from what a plugin thread posted,
 * not trusted further than that, and must count the same as the plugin's side did.
 */
export function stepChars(step: { id?: unknown; name?: unknown; message?: unknown }): number {
  const len = (v: unknown): number => (typeof v === "string" ? v.length : 0);
  return 150 + len(step.id) + len(step.name) + len(step.message);
}

/** What waits for room in one job's queue: the latest update of each step, and the count of what was dropped. */
export class HeldSteps {
  readonly #held = new Map<string, StepUpdate>();
  #droppedLines = 0;
  #droppedSteps = 0;

  /** Lines that did not fit: dropped, and said in the next drain(). */
  dropLines(count: number): void {
    this.#droppedLines += count;
  }

  /** A step update that did not fit: merged into the one held for its id; past MAX_HELD_STEPS ids, counted as dropped. */
  hold(step: StepUpdate): void {
    const held = this.#held.get(step.id);
    if (held !== undefined) this.#held.set(step.id, { ...held, ...step });
    else if (this.#held.size < MAX_HELD_STEPS) this.#held.set(step.id, step);
    else this.#droppedSteps++;
  }

  /**
   * What waited, to be sent now (room came, or the result follows), in this order: the line saying
   * how many were dropped (so where lines are missing is known; undefined when none were), ending
   * in `why`, then the held steps. Empties the holder.
   */
  drain(why: string): { dropped: string | undefined; steps: StepUpdate[] } {
    let dropped: string | undefined;
    if (this.#droppedLines > 0 || this.#droppedSteps > 0) {
      const steps = this.#droppedSteps > 0 ? ` and ${this.#droppedSteps} step updates` : "";
      dropped = `${this.#droppedLines} log lines${steps} dropped: ${why}`;
      this.#droppedLines = 0;
      this.#droppedSteps = 0;
    }
    const steps = [...this.#held.values()];
    this.#held.clear();
    return { dropped, steps };
  }

  /** Lets the held steps go unsent (the job is finished); the dropped counts stay. */
  forgetSteps(): void {
    this.#held.clear();
  }
}
