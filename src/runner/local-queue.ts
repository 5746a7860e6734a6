// Offered jobs the runner holds beyond its running ones (local prefetch, `prefetch`), as Graphile
// Worker's localQueue: a freed slot starts the next held job at once instead of waiting a round
// trip (result → controller → fsync → offer) for one. A held job is not accepted: the
// controller's `running` and the job's timeout start when it starts; its lease is heartbeated
// like a running one's. None waits past the hold bound: it goes back (`release`, no attempt used)
// to the controller, for a runner with a free slot.

import type { JobHandle } from "../controller/connection.ts";
import type { Timers } from "../util/time.ts";

/** A held job as /status shows it. */
export interface HeldJobInfo {
  jobId: string;
  attempt: number;
  plugin: string;
  action: string;
  /** Epoch ms the offer arrived. */
  heldSince: number;
}

export interface LocalQueueOptions {
  /** Most jobs held at once (`prefetch`). */
  capacity: number;
  /** Longest a job is held before it is given back (`prefetchHoldMs`). */
  holdMs: number;
  timers: Pick<Timers, "now" | "setTimeout" | "clearTimeout">;
  /** Held jobs past the bound, oldest first, already out of the queue: to be given back. */
  onOverdue(handles: JobHandle[]): void;
  /** A held job whose signal aborted (cancelled, lease lost), already out of the queue. */
  onAborted(handle: JobHandle): void;
  /**
   * Whether held jobs past the bound can go back now (the controller lists `release`; default
   * yes). When not, they stay held, heartbeated, to start as slots free (no attempt used), and
   * the bound is looked at again one hold later: a controller that would ignore a `release`
   * leaves the job waiting for its lease to expire, and uses an attempt.
   */
  canGiveBack?(): boolean;
}

interface Held {
  handle: JobHandle;
  since: number;
  stopListening: () => void;
}

export class LocalQueue {
  readonly #o: LocalQueueOptions;
  /** Oldest first: jobs start in the order they were offered. */
  #held: Held[] = [];
  /** When the last jobs ended (at most `capacity`, oldest first): how fast slots free. */
  readonly #ends: number[] = [];
  #timer: unknown;

  constructor(options: LocalQueueOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#held.length;
  }

  /**
   * How many jobs to hold now: up to `capacity`, and no more than ended within half the hold
   * bound, so a held job expects to start within that half. Slots that free more slowly would
   * leave held jobs waiting past the bound only to be given back: a runner busy with long jobs
   * holds none (and a runner none until its jobs end).
   */
  room(): number {
    const since = this.#o.timers.now() - this.#o.holdMs / 2;
    let stale = 0;
    while (stale < this.#ends.length && this.#ends[stale]! < since) stale++;
    if (stale > 0) this.#ends.splice(0, stale);
    return Math.min(this.#o.capacity, this.#ends.length);
  }

  /** A running job ended: its slot is free. */
  ended(): void {
    this.#ends.push(this.#o.timers.now());
    if (this.#ends.length > this.#o.capacity) this.#ends.shift();
  }

  hold(handle: JobHandle): void {
    const onAbort = () => {
      const index = this.#held.findIndex((h) => h.handle === handle);
      if (index < 0) return;
      this.#held.splice(index, 1);
      this.#o.onAborted(handle);
    };
    handle.signal.addEventListener("abort", onAbort, { once: true });
    this.#held.push({ handle, since: this.#o.timers.now(), stopListening: () => handle.signal.removeEventListener("abort", onAbort) });
    if (this.#timer === undefined) this.#arm();
  }

  /** The oldest held job, out of the queue; undefined when none is held. */
  take(): JobHandle | undefined {
    const next = this.#held.shift();
    next?.stopListening();
    return next?.handle;
  }

  /** Every held job, oldest first, out of the queue (the runner drains). */
  takeAll(): JobHandle[] {
    const all = this.#held;
    this.#held = [];
    for (const h of all) h.stopListening();
    this.#disarm();
    return all.map((h) => h.handle);
  }

  list(): HeldJobInfo[] {
    return this.#held.map(({ handle: { job }, since }) => ({ jobId: job.id, attempt: job.attempt, plugin: job.plugin, action: job.action, heldSince: since }));
  }

  close(): void {
    this.#disarm();
  }

  /** One timer, for the oldest held job: the queue is in offer order, so it is due first. */
  #arm(): void {
    const head = this.#held[0];
    if (head === undefined) return;
    const waitMs = Math.max(0, head.since + this.#o.holdMs - this.#o.timers.now());
    this.#timer = this.#o.timers.setTimeout(() => this.#due(), waitMs);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #due(): void {
    this.#timer = undefined;
    if (this.#o.canGiveBack?.() === false) {
      this.#timer = this.#o.timers.setTimeout(() => this.#due(), this.#o.holdMs);
      return;
    }
    const deadline = this.#o.timers.now() - this.#o.holdMs;
    let overdue = 0;
    while (overdue < this.#held.length && this.#held[overdue]!.since <= deadline) overdue++;
    const out = this.#held.splice(0, overdue);
    for (const h of out) h.stopListening();
    this.#arm();
    if (out.length > 0) this.#o.onOverdue(out.map((h) => h.handle));
  }
}
