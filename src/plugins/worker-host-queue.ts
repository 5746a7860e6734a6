// Runs queued behind a busy plugin thread's current run: the claim slots shared with the thread
// (a queued run is the thread's once it claims the slot, the host's to take back until then) and
// the stall timer that takes unstarted runs back when the run ahead of them takes too long.

import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { Timers } from "../util/time.ts";
import type { WorkerHostOptions } from "./worker-host-options.ts";

/**
 * Runs queued behind a busy worker's current run, at most: one wake-up of the thread serves up to
 * four runs (a sleeping thread woken per run cost more than the run; docs/performance.md).
 */
const CLAIM_SLOTS = 3;

/** What the queue needs of the host's pending runs (worker-host.ts). */
export interface QueuedRun {
  /** The claim slot of a run queued behind another (worker-protocol.ts, `init`). */
  readonly slot: number | undefined;
  /**
   * Settles with the pool's own outcome type: `succeeded`, or `failed` with the named outputs set
   * before the failure; `undefined` when a queued run was taken back before the worker started it.
   */
  readonly settle: (outcome: JobOutcome | undefined) => void;
}

export interface RunQueueOptions<R extends QueuedRun> {
  /** The host's runs sent and not yet answered; a run taken back leaves it. */
  readonly pending: Map<number, R>;
  readonly pipeline: NonNullable<WorkerHostOptions["pipeline"]>;
  readonly timers: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  /** Wraps the stall timer's callback: a bug there is logged, not thrown. */
  readonly guarded: (callback: () => void) => () => void;
}

export class RunQueue<R extends QueuedRun> {
  /** Shared with the thread: a slot holds the id of the run queued in it until the thread claims it. */
  readonly claims = new Int32Array(new SharedArrayBuffer(CLAIM_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  readonly #free: number[] = [];
  readonly #o: RunQueueOptions<R>;
  #stallTimer: unknown;
  /** When the oldest pending run became the one the worker runs (timers.now()). */
  #headSince = 0;

  constructor(options: RunQueueOptions<R>) {
    this.#o = options;
    for (let slot = CLAIM_SLOTS - 1; slot >= 0; slot--) this.#free.push(slot);
  }

  /** Whether a slot is free for a run to wait in. */
  get hasRoom(): boolean {
    return this.#free.length > 0;
  }

  /** A free slot for a run to wait in, or `undefined` when all are taken. */
  take(): number | undefined {
    return this.#free.pop();
  }

  /** The slot of a run that ended (answered by the worker) is free again. */
  free(slot: number): void {
    this.#free.push(slot);
  }

  /** The oldest pending run just became the one the worker runs. */
  headStarted(): void {
    this.#headSince = this.#o.timers.now();
  }

  /** Puts `runId` in its slot, before the run is posted. */
  claim(slot: number, runId: number): void {
    Atomics.store(this.claims, slot, runId);
  }

  /** Starts the stall timer after a run was queued, unless it runs already. */
  watch(): void {
    if (this.#stallTimer === undefined) this.#armStall(this.#o.pipeline.stallMs);
  }

  /** Takes back a queued run the worker has not started; its result resolves `undefined`. False once it started. */
  reclaim(runId: number): boolean {
    const run = this.#o.pending.get(runId);
    if (run?.slot === undefined || Atomics.compareExchange(this.claims, run.slot, runId, 0) !== runId) return false;
    this.#o.pending.delete(runId);
    this.#free.push(run.slot);
    run.settle(undefined);
    return true;
  }

  reclaimQueued(): number {
    let taken = 0;
    for (const [runId, run] of [...this.#o.pending]) if (run.slot !== undefined && this.reclaim(runId)) taken++;
    return taken;
  }

  clearStall(): void {
    if (this.#stallTimer === undefined) return;
    this.#o.timers.clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** Queued runs are taken back once the worker has finished none for `stallMs` (a slow or stuck run ahead of them). */
  #armStall(ms: number): void {
    const { pipeline, timers } = this.#o;
    this.#stallTimer = timers.setTimeout(this.#o.guarded(() => {
      this.#stallTimer = undefined;
      if (!this.#hasQueued()) return;
      const quiet = timers.now() - this.#headSince;
      if (quiet < pipeline.stallMs) this.#armStall(pipeline.stallMs - quiet);
      else if (this.reclaimQueued() > 0) pipeline.onStalled();
    }), ms);
  }

  /** Whether a run sent to wait behind another is still unstarted. */
  #hasQueued(): boolean {
    for (const [runId, run] of this.#o.pending) if (run.slot !== undefined && Atomics.load(this.claims, run.slot) === runId) return true;
    return false;
  }
}
