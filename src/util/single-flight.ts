// Concurrent callers asking for the same key share one piece of work. Each caller may give up
// on its own signal; the shared work is aborted only when every caller has given up.

export type FlightWork<T> = (signal: AbortSignal) => Promise<T>;

interface Flight<T> {
  key: string;
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  /** Keys with work in progress. */
  get size(): number {
    return this.#flights.size;
  }

  run(key: string, work: FlightWork<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    if (flight === undefined) {
      const controller = new AbortController();
      const created: Flight<T> = { key, controller, waiters: 0, promise: Promise.resolve() as Promise<T> };
      created.promise = (async () => {
        try {
          return await work(controller.signal);
        } finally {
          // A later request starts fresh work (a failed download is retried, a new key is seen).
          if (this.#flights.get(key) === created) this.#flights.delete(key);
        }
      })();
      this.#flights.set(key, created);
      flight = created;
    }
    return this.#wait(flight, signal);
  }

  #wait(flight: Flight<T>, signal: AbortSignal | undefined): Promise<T> {
    flight.waiters++;
    if (signal === undefined) return flight.promise.finally(() => flight.waiters--);
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = () => {
        if (done) return false;
        done = true;
        flight.waiters--;
        signal.removeEventListener("abort", onAbort);
        return true;
      };
      const onAbort = () => {
        if (!finish()) return;
        if (flight.waiters === 0) {
          // Nobody waits any more: abort, and let the next caller start afresh rather than join this.
          if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
          flight.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => finish() && resolve(value),
        (error: unknown) => finish() && reject(error),
      );
    });
  }
}
