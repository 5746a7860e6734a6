// A held job's `release` that leaves on a session dying before it arrives (here the frame is
// dropped, then the socket closes), with the reference controller in-process. Until 2026-12-02
// the release counted as done once handed to the session: the job was not heartbeated or released
// on the next session, its lease lapsed and the attempt counted (maxAttempts 1: failed
// lease_expired though it never ran). Now the release waits for the controller's confirmation and
// goes again on the next session: the job is re-queued with its release counted.
import { afterEach, expect, test } from "bun:test";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { GatedExecutor, warmUp } from "../helpers/prefetch.ts";
import { networkOpener, type TransportOpener } from "../../src/controller/edge/opener.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test("Runner: a release lost with its session does not cost the job its only attempt", async () => {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir, maxAttempts: 1, leaseTtlMs: 1500, leaseGraceMs: 100 });
  let loseReleases = false;
  const opener: TransportOpener = {
    session: (o) => networkOpener.session(o),
    async open(kind, o) {
      const t = await networkOpener.open(kind, o);
      return {
        kind: t.kind, closed: t.closed, close: () => t.close(),
        send(messages) {
          const kept = loseReleases ? messages.filter((m) => m.type !== "release") : messages;
          if (kept.length < messages.length) {
            loseReleases = false;
            setTimeout(() => t.close(), 10); // the dying session ends soon after
          }
          t.send(kept);
        },
      };
    },
  };
  const executor = new GatedExecutor();
  const started = startRunner({ controller, executor, concurrency: 1, prefetch: 1, prefetchHoldMs: 800, opener });
  cleanups.push(tmp.remove, () => controller.close(), () => started.runner.drain());
  await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  await warmUp(controller, executor, 1);
  const long = controller.submitJob({ plugin: "echo", input: "long" }).id;
  const held = controller.submitJob({ plugin: "echo", input: "held" }).id;
  await eventually(() => (started.runner.snapshot().held.length === 1 ? true : undefined), 10_000, "job held");
  loseReleases = true;
  // Given back past prefetchHoldMs; the first release is lost with its session, the next session carries it.
  await eventually(() => ((controller.getJob(held)?.releasedLeases ?? 0) >= 1 ? true : undefined), 10_000, "release reached the controller");
  // Past the lease TTL: nothing lapses.
  await Bun.sleep(2500);
  const job = controller.getJob(held)!;
  expect(executor.started).not.toContain(held);
  expect(job.status).not.toBe("failed");
  expect(job).toMatchObject({ releasedLeases: 1 });
  executor.finish(long);
}, 20_000);
