// Helpers of the local prefetch tests (test/runner/prefetch*.test.ts): an executor whose jobs end
// when the test says, the warm-up that lets a runner hold (it holds only as fast as slots free),
// and a sampler of what the controller granted a runner.

import type { ReferenceController } from "../../src/reference-controller/controller.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import type { Runner } from "../../src/runner/runner.ts";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import { eventually } from "./harness.ts";

/** Jobs run until the test finishes them (or `autoMs` passes); records the order they started in. */
export class GatedExecutor implements JobExecutor {
  readonly started: string[] = [];
  readonly #gates = new Map<string, () => void>();
  constructor(readonly autoMs?: () => number) {}

  run(request: RunRequest): Promise<JobOutcome> {
    this.started.push(request.jobId);
    return new Promise((resolve) => {
      this.#gates.set(request.jobId, () => resolve({ status: "succeeded", output: null }));
      request.signal.addEventListener("abort", () => resolve({ status: "cancelled", error: { code: "job_cancelled", message: "cancelled" } }), { once: true });
      request.interrupt?.addEventListener("abort", () => resolve({ status: "interrupted" }), { once: true });
      if (this.autoMs !== undefined) setTimeout(() => this.finish(request.jobId), this.autoMs());
    });
  }

  finish(jobId: string): void {
    this.#gates.get(jobId)?.();
    this.#gates.delete(jobId);
  }

  workers() {
    return [];
  }

  async close(): Promise<void> {}
}

/** Jobs hold only as fast as slots free: a few jobs must end first (within the hold bound). */
export async function warmUp(controller: ReferenceController, executor: GatedExecutor, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const job = controller.submitJob({ plugin: "echo", input: { warm: i } });
    await eventually(() => (executor.started.includes(job.id) ? true : undefined), 10_000, "warm-up job started");
    executor.finish(job.id);
    await controller.waitForJob(job.id, 10_000);
  }
}

/**
 * Samples every millisecond, until the returned function is called, the most credit plus leases
 * the controller saw for runner "r1" and the most jobs the runner held; `check` runs each time too.
 */
export function sampleCredit(controller: ReferenceController, runner: Runner, check: () => void = () => {}): () => { most: number; mostHeld: number } {
  let most = 0;
  let mostHeld = 0;
  const sample = setInterval(() => {
    const session = controller.core.sessions.ofRunner("r1");
    most = Math.max(most, controller.core.leasedBy("r1") + (session?.credit ?? 0));
    mostHeld = Math.max(mostHeld, runner.snapshot().held.length);
    check();
  }, 1);
  return () => {
    clearInterval(sample);
    return { most, mostHeld };
  };
}
