// When the next long-poll receive leaves. A controller holds each receive until it has a message or
// the poll's wait is over, so the next one can leave at once; something that answers at once with
// nothing (a proxy, a broken controller: `{"messages":[]}` or `{}`) would make that a busy loop
// (24,873 receives in 2 s, a full core). Such answers make the next receive wait, growing; a send
// the controller took cuts the wait to the floor (poll-transport.ts): a liveness probe's ack waited
// up to 5 s for the next receive, as long as liveness gives it, and the session was dropped. Never
// below the floor: a send every 10 ms ending each wait made one receive per send.

/**
 * The first wait after an early empty or malformed answer, doubled each time up to the ceiling; the
 * shortest, too, when a send ends a wait: at most one such receive per IDLE_RECEIVE_MIN_MS.
 */
export const IDLE_RECEIVE_MIN_MS = 100;
export const IDLE_RECEIVE_MAX_MS = 5_000;

/** How one receive was answered. */
export interface ReceiveAnswer {
  /** Milliseconds from asking to the answer read. */
  tookMs: number;
  /** Messages it carried (0 for a malformed answer). */
  messages: number;
  /** Not `{"messages":[…]}` within the bounds: refused whole. */
  malformed: boolean;
}

export class PollPacing {
  readonly #earlyMs: number;
  /** Early empty or malformed answers in a row. */
  #idle = 0;

  /** An empty answer sooner than half the poll's wait (at most 1 s) was not held: early. */
  constructor(pollWaitMs: number) {
    this.#earlyMs = Math.min(1_000, pollWaitMs / 2);
  }

  /**
   * The runner sent something the controller took: its answer (a heartbeat's ack, a liveness
   * probe's) may be waiting, so the next waits start again from the floor.
   */
  reset(): void {
    this.#idle = 0;
  }

  /** How long to wait before the next receive: 0 after messages or a held answer. */
  next(answer: ReceiveAnswer): number {
    const early = answer.messages === 0 && answer.tookMs < this.#earlyMs;
    if (!answer.malformed && !early) {
      this.#idle = 0;
      return 0;
    }
    this.#idle++;
    return Math.min(IDLE_RECEIVE_MAX_MS, IDLE_RECEIVE_MIN_MS * 2 ** Math.min(this.#idle - 1, 16));
  }
}
