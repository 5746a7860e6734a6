// Runner.drain() (SIGTERM) while the controller is unreachable and a job runs. Until 2026-12-02 a
// job's `done` waited for the controller's answer to its result, and the drain waited for every
// `done` before its flush timeout: with no controller the answer never came, so drain() never
// returned, flushTimeoutMs never applied, the result was never written to the spool on the way
// out, and a second stop request (interruptNow) returned the same pending promise. The contract
// (docs/reliability.md, docs/operations.md): stop within the drain timeout plus the flush timeout,
// the unacknowledged result kept in the data directory.
import { afterEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { eventually, startController, startRunner, tempDir } from "../helpers/harness.ts";
import { GatedExecutor } from "../helpers/prefetch.ts";
import { networkOpener, type TransportOpener } from "../../src/controller/edge/opener.ts";
import type { Transport } from "../../src/controller/edge/transport.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FLUSH_TIMEOUT_MS = 3000; // the harness's flushTimeoutMs
const DRAIN_TIMEOUT_MS = 200;

test("Runner.drain() during a controller outage stops within drain + flush timeout and keeps the result in the spool", async () => {
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: join(tmp.dir, "controller") });
  cleanups.push(tmp.remove, () => controller.close());
  let live: Transport | undefined;
  let outage = false;
  const opener: TransportOpener = {
    session: (o) => (outage ? Promise.reject(new Error("connect ECONNREFUSED")) : networkOpener.session(o)),
    async open(kind, o) {
      live = await networkOpener.open(kind, o);
      return live;
    },
  };
  const executor = new GatedExecutor();
  const spoolDir = join(tmp.dir, "runner", "results");
  const started = startRunner({ controller, executor, concurrency: 1, opener, drainTimeoutMs: DRAIN_TIMEOUT_MS, resultSpoolDir: spoolDir });
  await eventually(() => (started.runner.lifecycle.state === "ready" ? true : undefined), 10_000, "runner ready");
  const job = controller.submitJob({ plugin: "echo", input: "long" }).id;
  await eventually(() => (executor.started.includes(job) ? true : undefined), 10_000, "job started");
  outage = true;
  live!.close();
  await eventually(() => (started.runner.lifecycle.state !== "ready" ? true : undefined), 10_000, "disconnected");

  const t0 = Date.now();
  const first = await Promise.race([started.runner.drain().then(() => "stopped"), Bun.sleep(DRAIN_TIMEOUT_MS + FLUSH_TIMEOUT_MS + 3000).then(() => "still draining")]);
  const tookMs = Date.now() - t0;
  expect(first).toBe("stopped");
  expect(tookMs).toBeLessThan(DRAIN_TIMEOUT_MS + FLUSH_TIMEOUT_MS + 2000);
  expect(started.runner.lifecycle.state).toBe("stopped");
  // A second stop request answers at once, the drain being over.
  const second = await Promise.race([started.runner.interruptNow().then(() => "stopped"), Bun.sleep(1000).then(() => "still draining")]);
  expect(second).toBe("stopped");
  expect(started.records.some((r) => r.level === "warn" && String(r.msg).includes("kept in the data directory"))).toBe(true);
  // The interrupted job's result waits on disk for the next start.
  expect(readdirSync(spoolDir).filter((f) => f.endsWith(".result.json"))).toHaveLength(1);
}, 30_000);
