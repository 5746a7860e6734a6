// Retention of finished jobs: each is kept, with its events, for `retentionMs` after it finished,
// then pruned. Kept in finishing order, so finding the expired ones never scans the kept ones.

export class FinishedJobs {
  readonly retentionMs: number;
  /** jobId → finishedAt, in insertion (≈ finishing) order. */
  readonly #finishedAt = new Map<string, number>();

  constructor(retentionMs: number) {
    if (!Number.isFinite(retentionMs) || retentionMs < 0) throw new RangeError(`Invalid job retention ${retentionMs} ms: expected a duration of 0 or more`);
    this.retentionMs = retentionMs;
  }

  get size(): number { return this.#finishedAt.size; }

  add(jobId: string, finishedAt: number): void {
    this.#finishedAt.delete(jobId);
    this.#finishedAt.set(jobId, finishedAt);
  }

  /** Removes and returns the jobs whose retention ended by `now`. */
  expired(now: number): string[] {
    const out: string[] = [];
    for (const [id, finishedAt] of this.#finishedAt) {
      // A clock that stepped back may keep a later job a little longer than an earlier one.
      if (finishedAt + this.retentionMs > now) break;
      out.push(id);
    }
    for (const id of out) this.#finishedAt.delete(id);
    return out;
  }
}
