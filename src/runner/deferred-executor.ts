// An executor built on first use. What runs jobs (the plugin pool, worker threads, bundle
// verification, secret decryption) is most of a runner's code but no part of being ready, so
// `edge-runner run` imports and builds it at the first job, or as soon as a plugin policy asks
// for warm workers (docs/performance.md, start-up). Until then it reports no workers.

import { serializeError } from "../errors.ts";
import type { RunRequest } from "../plugins/pool-options.ts";
import type { JobOutcome } from "../protocol/edge-v1.ts";
import type { JobExecutor } from "./job-executor.ts";

export type DeferredState = "idle" | "building" | "built" | "failed" | "closed";

export class DeferredExecutor implements JobExecutor {
  readonly #build: () => Promise<JobExecutor>;
  #building: Promise<JobExecutor> | undefined;
  #built: JobExecutor | undefined;
  #state: DeferredState = "idle";

  constructor(build: () => Promise<JobExecutor>) {
    this.#build = build;
  }

  get state(): DeferredState {
    return this.#state;
  }

  /** Builds the executor now (once); later calls share the first build. */
  build(): Promise<JobExecutor> {
    if (this.#building === undefined) {
      this.#state = "building";
      this.#building = this.#build().then(
        (executor) => {
          this.#built = executor;
          if (this.#state === "building") this.#state = "built";
          return executor;
        },
        (error: unknown) => {
          this.#state = "failed";
          throw error;
        },
      );
    }
    return this.#building;
  }

  run(request: RunRequest): Promise<JobOutcome> {
    // Built: straight through, no promise hop between an offer and the pool (issue 15, latency).
    if (this.#built !== undefined && this.#state === "built") return this.#built.run(request);
    return this.#runWhenBuilt(request);
  }

  async #runWhenBuilt(request: RunRequest): Promise<JobOutcome> {
    let executor: JobExecutor;
    try {
      executor = await this.build();
    } catch (error) {
      // The contract: never reject. A build that failed fails every job with its reason.
      return { status: "failed", error: serializeError(error) };
    }
    return executor.run(request);
  }

  workers(): ReturnType<JobExecutor["workers"]> {
    return this.#built?.workers() ?? [];
  }

  async close(): Promise<void> {
    const building = this.#building;
    this.#state = "closed";
    if (building === undefined) return;
    const executor = await building.catch(() => undefined);
    await executor?.close();
  }
}
