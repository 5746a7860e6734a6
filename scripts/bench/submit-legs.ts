// Where a submit's time goes without processes between: `bun scripts/bench/submit-legs.ts`
// starts a ReferenceController in this process (journal on $TMPDIR) and times, interleaved,
// an HTTP round trip without work (`GET /api/v1/health`), `POST /api/v1/jobs` (answered once
// the job is fsync'd) and `submitJob()` plus its durable batch with no HTTP at all; and an
// append + fsync on this thread against one on the thread pool (the group commit's way).
// Not part of `npm run bench`: docs/performance.md (Latency beside BullMQ) quotes it.

import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ReferenceController } from "../../src/reference-controller/controller.ts";
import { benchLogger } from "./quiet-logger.ts";
import { median } from "./stats.ts";

const SAMPLES = 500;
const WARMUP = 100;
const dir = fs.mkdtempSync(path.join(tmpdir(), "edge-runner-submit-legs-"));
const { logger } = benchLogger();
const controller = await ReferenceController.start({ dataDir: path.join(dir, "data"), port: 0, logger, adminToken: "bench" });
const headers = { authorization: "Bearer bench", "content-type": "application/json" };
const legs: Record<string, number[]> = { "GET /api/v1/health": [], "POST /api/v1/jobs": [], "submitJob() + durable batch": [], "append + fsyncSync": [], "append + fs.fsync (thread pool)": [] };
const fd = fs.openSync(path.join(dir, "probe.jsonl"), "a", 0o600);
const line = Buffer.from(`${JSON.stringify({ t: "job", pad: "x".repeat(280) })}\n`);
const time = async (leg: string, i: number, fn: () => Promise<unknown> | unknown) => {
  const at = performance.now();
  await fn();
  if (i >= WARMUP) legs[leg]?.push(performance.now() - at);
};
try {
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    await time("GET /api/v1/health", i, async () => (await fetch(`${controller.url}/api/v1/health`)).arrayBuffer());
    await time("POST /api/v1/jobs", i, async () => {
      const response = await fetch(`${controller.url}/api/v1/jobs`, { method: "POST", headers, body: JSON.stringify({ plugin: "echo", input: { n: i } }) });
      if (response.status !== 201) throw new Error(`Cannot submit a job: HTTP ${response.status}`);
      await response.arrayBuffer();
    });
    await time("submitJob() + durable batch", i, async () => {
      controller.submitJob({ plugin: "echo", input: { n: i } });
      await controller.core.store.durable();
    });
    await time("append + fsyncSync", i, () => {
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
    });
    await time("append + fs.fsync (thread pool)", i, async () => {
      fs.writeSync(fd, line);
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (error) => (error === null ? resolve() : reject(error))));
    });
  }
  for (const [leg, samples] of Object.entries(legs)) console.log(`${leg.padEnd(34)} p50 ${median(samples).toFixed(3)} ms`);
} finally {
  fs.closeSync(fd);
  await controller.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
