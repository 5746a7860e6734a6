// Liveness of a session: the controller answers every heartbeat (heartbeat_ack), so a session
// that carried nothing from the controller for a while is probed with a heartbeat, and one
// silent past the timeout is given up. A frozen controller (SIGSTOP) keeps its sockets open and
// would otherwise leave the runner "connected" forever; this notices it within seconds.

import type { Timers } from "../../util/time.ts";

export interface LivenessOptions {
  timers: Pick<Timers, "now" | "sleep">;
  /** Probe when nothing was heard for this long. */
  probeAfterMs: number;
  /** Give the session up when nothing was heard for this long (after a probe). */
  timeoutMs: number;
  probe: () => void;
  onSilent: (silentMs: number) => void;
}

/** Defaults: probe after 5 s of silence, give up after 10 s: a frozen controller is seen in ~10 s. */
export const LIVENESS_PROBE_MS = 5_000;
export const LIVENESS_TIMEOUT_MS = 10_000;

export class Liveness {
  readonly #o: LivenessOptions;
  #lastHeard: number;
  /** Counts frames heard, so an answer in the same millisecond as its probe still counts. */
  #heardCount = 0;

  constructor(options: LivenessOptions) {
    this.#o = options;
    this.#lastHeard = options.timers.now();
  }

  /** Anything arrived from the controller. */
  heard(): void {
    this.#lastHeard = this.#o.timers.now();
    this.#heardCount++;
  }

  get lastHeardAt(): number {
    return this.#lastHeard;
  }

  /** Runs until `signal` aborts or the controller is found silent (then calls `onSilent` once). */
  async run(signal: AbortSignal): Promise<void> {
    const { timers, probeAfterMs, timeoutMs } = this.#o;
    const step = Math.max(100, Math.min(probeAfterMs, timeoutMs) / 2);
    /** `#heardCount` when the last probe left; undefined: no probe waits for an answer. */
    let probe: number | undefined;
    while (!signal.aborted) {
      await timers.sleep(step, signal);
      if (signal.aborted) return;
      if (probe !== undefined && this.#heardCount > probe) probe = undefined;
      const silent = timers.now() - this.#lastHeard;
      if (silent >= timeoutMs && probe !== undefined) {
        this.#o.onSilent(silent);
        return;
      }
      if (silent >= probeAfterMs && probe === undefined) {
        probe = this.#heardCount;
        this.#o.probe();
      }
    }
  }
}

