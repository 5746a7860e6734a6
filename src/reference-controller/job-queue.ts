// One group's queue: job ids ordered by their FIFO position, so a re-queued job (expired lease,
// reject, interrupted) goes back where it was rather than to the end.

interface Entry {
  id: string;
  queueSeq: number;
}

export class JobQueue {
  readonly #entries: Entry[] = [];
  /** The ids in #entries: a finished job (already shifted out) is removed without a scan of the backlog. */
  readonly #ids = new Set<string>();

  get size(): number {
    return this.#entries.length;
  }

  insert(id: string, queueSeq: number): void {
    // Binary search: new jobs land at the end in O(log n), re-queued ones at their old place.
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#entries[mid] as Entry).queueSeq < queueSeq) lo = mid + 1;
      else hi = mid;
    }
    this.#entries.splice(lo, 0, { id, queueSeq });
    this.#ids.add(id);
  }

  shift(): string | undefined {
    const id = this.#entries.shift()?.id;
    if (id !== undefined) this.#ids.delete(id);
    return id;
  }

  remove(id: string): boolean {
    if (!this.#ids.delete(id)) return false;
    const index = this.#entries.findIndex((e) => e.id === id);
    if (index === -1) return false;
    this.#entries.splice(index, 1);
    return true;
  }

  ids(): string[] {
    return this.#entries.map((e) => e.id);
  }
}
