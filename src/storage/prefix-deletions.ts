// Deletions of attempt prefixes under way (an attempt's cleanup, a retry of it, the sweeper's),
// so the same job attempt opened again meanwhile (same job, same attempt number: same prefix)
// waits for them before it touches the store. A deletion lists and deletes, or removes the
// directory whole, so one already under way took the new attempt's objects with the old ones.

export class PrefixDeletions {
  /** Per prefix: settles (never rejects) once every deletion of it registered so far has ended. */
  readonly #running = new Map<string, Promise<void>>();

  /**
   * Runs `work` as a deletion of `prefix`. It is registered before this returns, with no await
   * between: a check made just before the call (is the prefix in use?) and the registration are
   * one step, so an attempt opened after the check sees the deletion and waits for it.
   */
  run<T>(prefix: string, work: () => Promise<T>): Promise<T> {
    const result = work();
    const ended = result.then(() => undefined, () => undefined);
    const previous = this.#running.get(prefix);
    const all = previous === undefined ? ended : Promise.all([previous, ended]).then(() => undefined);
    this.#running.set(prefix, all);
    void all.then(() => {
      if (this.#running.get(prefix) === all) this.#running.delete(prefix);
    });
    return result;
  }

  /** Settles (never rejects) when the deletions of `prefix` under way now have ended; undefined when there are none. */
  settled(prefix: string): Promise<void> | undefined {
    return this.#running.get(prefix);
  }
}
