// Callers waiting for a job to end (`GET /api/v1/jobs/:id/wait`, CLI --wait): woken when the
// job turns terminal, on their timeout, on abort, or all at once on shutdown.

export class JobWaiters {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Resolves (never rejects) after a wake, the timeout, or the abort, whichever is first. */
  wait(jobId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(jobId) ?? new Set();
      this.#waiters.set(jobId, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(jobId) === set) this.#waiters.delete(jobId);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }

  wake(jobId: string): void {
    for (const done of [...(this.#waiters.get(jobId) ?? [])]) done();
  }

  wakeAll(): void {
    for (const set of [...this.#waiters.values()]) for (const done of [...set]) done();
  }
}
