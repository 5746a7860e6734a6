// Several runners in one group against one controller (issue 16 item 4): the controller spreads
// the group's jobs over every runner with credit, never offers a runner more jobs than its free
// slots, and leaves a job queued when the whole group is full. Real runners and controller over
// real WebSockets; the executors hold each job until the test releases it (no timing asserted).

import { afterEach, describe, expect, test } from "bun:test";
import type { RunRequest } from "../../src/plugins/pool-options.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";

/** Holds every job until released; counts what it runs at once. */
class HeldExecutor implements JobExecutor {
  running = 0;
  maxRunning = 0;
  readonly ran: string[] = [];
  readonly #held: Array<() => void> = [];

  run(request: RunRequest): Promise<JobOutcome> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    this.ran.push(request.jobId);
    return new Promise((resolve) => {
      this.#held.push(() => {
        this.running--;
        resolve({ status: "succeeded", output: { by: request.jobId } });
      });
    });
  }

  releaseAll(): void {
    for (const release of this.#held.splice(0)) release();
  }

  workers() {
    return [];
  }

  async close(): Promise<void> {
    this.releaseAll();
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("a runner fleet in one group", () => {
  test("fills every runner to its credit and no further; the job beyond the group's credit stays queued; all run once", async () => {
    const tmp = tempDir();
    const { controller } = await startController({ dataDir: tmp.dir });
    cleanups.push(tmp.remove, () => controller.close());
    const credits = [1, 2, 3];
    const fleet = credits.map((concurrency, i) => {
      const executor = new HeldExecutor();
      const { runner } = startRunner({ controller, runnerId: `fleet-${i}`, concurrency, executor });
      cleanups.push(() => runner.drain());
      return { executor, concurrency, runner };
    });
    await eventually(() => (controller.core.sessions.size === fleet.length ? true : undefined), 10_000, "every runner connected");

    // Exactly the group's credit: each runner must end up holding as many jobs as it has slots.
    const total = credits.reduce((a, b) => a + b, 0);
    const first = Array.from({ length: total }, (_, n) => controller.submitJob({ plugin: "echo", input: { n } }).id);
    await eventually(() => (fleet.every((r) => r.executor.running === r.concurrency) ? true : undefined), 10_000, "every runner full");
    // One more: no runner has credit, so it waits in the queue.
    const extra = controller.submitJob({ plugin: "echo", input: { n: "extra" } }).id;
    await eventually(() => (controller.core.queuedCount() === 1 ? true : undefined), 5_000, "the extra job queued");
    expect(controller.getJob(extra)?.status).toBe("queued");
    expect(fleet.map((r) => r.executor.running)).toEqual(credits);

    // A stream of jobs while runners free slots: still nobody over credit, and all of them finish.
    const more = Array.from({ length: 24 }, (_, n) => controller.submitJob({ plugin: "echo", input: { n: `more-${n}` } }).id);
    const all = [...first, extra, ...more];
    const finished = () => all.every((id) => controller.getJob(id)?.status === "succeeded");
    await eventually(() => {
      for (const r of fleet) r.executor.releaseAll();
      return finished() ? true : undefined;
    }, 20_000, "every job succeeded");

    for (const r of fleet) expect(r.executor.maxRunning).toBeLessThanOrEqual(r.concurrency);
    const ran = fleet.flatMap((r) => r.executor.ran);
    expect(ran.length).toBe(all.length);
    expect(new Set(ran).size).toBe(all.length);
    // Each job's record names the runner that ran it.
    for (const [i, r] of fleet.entries()) for (const id of r.executor.ran) expect(controller.getJob(id)?.runnerId).toBe(`fleet-${i}`);
  });

  test("one job at a time is spread round robin: each of four equal runners gets a share", async () => {
    const tmp = tempDir();
    const { controller } = await startController({ dataDir: tmp.dir });
    cleanups.push(tmp.remove, () => controller.close());
    const fleet = Array.from({ length: 4 }, (_, i) => {
      const executor = new HeldExecutor();
      const { runner } = startRunner({ controller, runnerId: `even-${i}`, concurrency: 4, executor });
      cleanups.push(() => runner.drain());
      return executor;
    });
    await eventually(() => (controller.core.sessions.size === fleet.length ? true : undefined), 10_000, "every runner connected");
    // Submitted one after another and finished before the next: every runner is idle each time,
    // so a controller that always picked the first runner would give it all 20.
    for (let n = 0; n < 20; n++) {
      const id = controller.submitJob({ plugin: "echo", input: { n } }).id;
      await eventually(() => {
        for (const executor of fleet) executor.releaseAll();
        return controller.getJob(id)?.status === "succeeded" ? true : undefined;
      }, 10_000, `job ${n} succeeded`);
    }
    const counts = fleet.map((executor) => executor.ran.length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(20);
    for (const count of counts) expect(count).toBeGreaterThanOrEqual(3);
  });
});
