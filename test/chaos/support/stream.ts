// A steady stream of jobs while the chaos happens: each calls the sink once and takes a random
// 50–400 ms; only what the controller acknowledged (201) counts in the census.

import { randomUUID } from "node:crypto";
import type { Cluster } from "./cluster.ts";
import type { Sink } from "./sink.ts";

export class JobStream {
  /** job id → nonce, for every submit the controller acknowledged. */
  readonly acked = new Map<string, string>();
  refused = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(cluster: Cluster, sink: Sink, options: { intervalMs: number; minMs?: number; maxMs?: number; maxAttempts?: number }) {
    const minMs = options.minMs ?? 50;
    const maxMs = options.maxMs ?? 400;
    this.#done = (async () => {
      while (this.#running) {
        const nonce = randomUUID();
        const ms = Math.round(minMs + Math.random() * (maxMs - minMs));
        const id = await cluster.submit(sink.input(nonce, ms), options.maxAttempts ?? 20);
        if (id === undefined) this.refused++;
        else this.acked.set(id, nonce);
        await Bun.sleep(options.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}
