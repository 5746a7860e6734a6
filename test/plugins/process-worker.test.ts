// The process-isolation memory ceiling, without the race of its poll: a run that crosses the
// ceiling and ends between two polls must still fail, never succeed.

import { expect, test } from "bun:test";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { startProcessWorker } from "../../src/plugins/process-worker.ts";
import type { WorkerToHost } from "../../src/plugins/worker-protocol.ts";
import { fixture } from "./support/helpers.ts";

test("a process worker whose run ends past its memory ceiling is killed before the run's end is delivered", async () => {
  // The poll would only fire after an hour: only the end-of-run check can catch it.
  const worker = startProcessWorker({ memoryCeilingMb: 150, pollMs: 3_600_000 });
  const messages: WorkerToHost["type"][] = [];
  const errors: string[] = [];
  let ready: () => void = () => {};
  const loaded = new Promise<void>((resolve) => (ready = resolve));
  worker.on("message", (message: WorkerToHost) => {
    messages.push(message.type);
    if (message.type === "ready") ready();
  });
  worker.on("error", (error: Error & { code?: string }) => errors.push(error.code ?? error.message));
  const exited = new Promise<number>((resolve) => worker.on("exit", resolve));
  worker.postMessage({ type: "init", source: fileBundleSource(fixture("sdk-features"), "sdk-features", "0.0.1") });
  await loaded;
  worker.postMessage({ type: "run", runId: 1, job: { id: "mem", attempt: 1, action: "memory", input: { mb: 300 }, artifactMaxBytes: 1024 } });
  await exited;
  expect(errors).toEqual(["ERR_WORKER_OUT_OF_MEMORY"]);
  expect(messages).toContain("ready");
  expect(messages).not.toContain("done");
  expect(messages).not.toContain("failed");
}, 30_000);
