// A runner with two controller URLs against two real reference-controller instances over real
// sockets: the one it runs a job for goes away before the result is delivered, the runner fails
// over to the second URL and replays its outbox there, and the job ends once, on attempt 1.
// Both instances open the same data directory one after the other (the embedded store allows one
// process at a time), which is what a replica on a shared database looks like to the runner.

import { afterEach, expect, test } from "bun:test";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { freePort } from "../helpers/processes.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import type { JobOutcome } from "../../src/protocol/edge-v1.ts";
import { statusDocument } from "../../src/status/document.ts";
import { Redactor } from "../../src/log/redact.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs each job until the test releases it. */
function heldExecutor() {
  const started: string[] = [];
  let release: (outcome: JobOutcome) => void = () => {};
  const held = new Promise<JobOutcome>((resolve) => (release = resolve));
  const executor: JobExecutor = {
    run: (request) => {
      started.push(`${request.jobId}#${request.attempt}`);
      return held;
    },
    workers: () => [],
    close: () => Promise.resolve(),
  };
  return { executor, started, release: (outcome: JobOutcome) => release(outcome) };
}

test("a runner fails over to the next controller URL and replays its buffered result there: the job ends once, on attempt 1", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.remove);
  const first = await startController({ dataDir: tmp.dir, leaseTtlMs: 30_000 });
  let firstOpen = true;
  cleanups.push(() => (firstOpen ? first.controller.close() : undefined));
  const secondPort = await freePort();
  const secondUrl = `http://127.0.0.1:${secondPort}`;
  const { executor, started, release } = heldExecutor();
  const { runner, connection } = startRunner({ controller: first.controller, controllerUrl: [first.controller.url, secondUrl], executor, concurrency: 2 });
  cleanups.push(() => runner.drain());
  await eventually(() => (runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready on the first controller");
  expect(connection.status().controller).toMatchObject({ index: 0, count: 2, failovers: 0 });

  const job = first.controller.submitJob({ plugin: "echo", input: { n: 1 } });
  await first.controller.durable();
  await eventually(() => (started.length === 1 ? true : undefined), 10_000, "job started");

  // The first controller goes away while the job runs; the runner finishes it with no controller
  // to tell, so the result waits in its outbox.
  await first.controller.close();
  firstOpen = false;
  release({ status: "succeeded", output: { n: 1, via: "outbox" } });
  await eventually(() => (connection.status().state !== "connected" ? true : undefined), 10_000, "session lost");

  // The second instance comes up on the other URL with the same state.
  const second = await startController({ dataDir: tmp.dir, port: secondPort, leaseTtlMs: 30_000 });
  cleanups.push(() => second.controller.close());
  const done = await second.controller.waitForJob(job.id, 20_000);
  expect(done.status).toBe("succeeded");
  expect(done.attempt).toBe(1);
  expect(done.output).toEqual({ n: 1, via: "outbox" });
  expect(started).toEqual([`${job.id}#1`]);

  expect(connection.currentUrl()).toBe(secondUrl);
  const status = connection.status();
  expect(status.controller).toMatchObject({ url: secondUrl, index: 1, count: 2 });
  expect(status.controller?.failovers).toBeGreaterThanOrEqual(1);
  // /status names the current controller and where it is in the list.
  const doc = statusDocument(runner.snapshot(), new Redactor());
  expect(doc.controllerUrl).toBe(secondUrl);
  expect(doc.controllers).toMatchObject({ index: 1, count: 2 });
}, 60_000);
