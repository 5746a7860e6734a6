// Log lines under backpressure: a plugin that logs faster than the controller takes them (or
// while the controller is away) must not grow the runner's memory without bound. The job's
// outbox keeps at most MAX_UNACKED_LOG_CHARS of unacknowledged lines; past it, lines are dropped,
// counted, and said: one "N log lines dropped" line as soon as there is room again, or before the
// result at the latest, so the job log shows where lines are missing and how many. The same
// between a plugin thread and the runner (LOG_WINDOW_CHARS): a plugin logging in a loop faster
// than the runner's thread takes its lines used to pile them up in the thread's message queue.

import { afterAll, expect, test } from "bun:test";
import { JobOutbox } from "../../src/controller/edge/job-outbox.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { fileBundleSource } from "../../src/plugins/plugin-ref.ts";
import { startController, startRunner, tempDir } from "../helpers/harness.ts";
import { request, testPool } from "../plugins/support/helpers.ts";
import type { LogLine, RunnerMessage } from "../../src/protocol/edge-v1.ts";
import { MAX_UNACKED_LOG_CHARS } from "../../src/protocol/limits.ts";

const offer = { id: "chatty", attempt: 1, group: "g", plugin: "echo", action: "default", input: null, leaseExpiresAt: 1, submittedAt: 1 };
const batch = (from: number, n: number): LogLine[] => Array.from({ length: n }, (_, i) => ({ ts: 1, level: "info", msg: `line ${from + i} ${"x".repeat(200)}` }));
const chars = (messages: RunnerMessage[]): number => messages.reduce((sum, m) => sum + JSON.stringify(m).length, 0);
type LogMessage = Extract<RunnerMessage, { type: "log" }>;
const lines = (messages: RunnerMessage[]): LogLine[] => messages.flatMap((m) => (m.type === "log" ? (m as LogMessage).lines : []));

function offline(dropped: number[] = []) {
  const job = new JobOutbox(offer, () => false, () => undefined, { now: () => 7, onDropped: (n) => dropped.push(n) });
  return job;
}

test("with the controller away, a plugin logging 60 MB keeps the outbox under its bound; the loss is counted and said before the result", async () => {
  const counted: number[] = [];
  const job = offline(counted);
  let logged = 0;
  for (let i = 0; i < 600; i++) {
    job.log(batch(logged, 500));
    logged += 500;
  }
  expect(chars(job.pending())).toBeLessThanOrEqual(MAX_UNACKED_LOG_CHARS + 300 * 1024);
  const kept = lines(job.pending()).length;
  expect(kept).toBeGreaterThan(0);
  const missing = logged - kept;
  expect(missing).toBeGreaterThan(0);
  void job.complete({ status: "succeeded", output: null, startedAt: 1, finishedAt: 2 });
  const pending = job.pending();
  const marker = lines(pending).at(-1);
  expect(marker).toEqual({ ts: 7, level: "warn", msg: `${missing} log lines dropped: the controller did not take them as fast as the job wrote them (at most ${MAX_UNACKED_LOG_CHARS} characters wait for it)` });
  // The result counts the marker's message among the events it follows.
  const result = pending.at(-1) as Extract<RunnerMessage, { type: "result" }>;
  expect(result.lastSeq).toBe((pending.at(-2) as LogMessage).seq);
  expect(counted.reduce((a, b) => a + b, 0)).toBe(missing);
});

test("the dropped lines are said as soon as acknowledgements make room, before the next lines, and counting starts again", () => {
  const job = offline();
  let logged = 0;
  while (lines(job.pending()).length === logged) {
    job.log(batch(logged, 500));
    logged += 500;
  }
  const kept = lines(job.pending()).length;
  const seq = (job.pending().at(-1) as LogMessage).seq;
  job.acked(seq);
  expect(job.pending()).toEqual([]);
  job.log([{ ts: 9, level: "info", msg: "after the outage" }]);
  const after = lines(job.pending());
  expect(after.map((l) => l.msg)).toEqual([expect.stringMatching(new RegExp(`^${logged - kept} log lines dropped: `)), "after the outage"]);
  job.acked((job.pending().at(-1) as LogMessage).seq);
  job.log([{ ts: 10, level: "info", msg: "no marker again" }]);
  expect(lines(job.pending()).map((l) => l.msg)).toEqual(["no marker again"]);
});

test("a controller that keeps up sees every line: nothing is dropped while acknowledgements keep the outbox small", () => {
  const counted: number[] = [];
  const job = new JobOutbox(offer, () => true, () => undefined, { onDropped: (n) => counted.push(n) });
  for (let i = 0; i < 400; i++) {
    job.log(batch(i * 500, 500));
    job.acked((job.pending().at(-1) as LogMessage).seq);
  }
  expect(counted).toEqual([]);
  expect(job.pending()).toEqual([]);
});

test("step updates through an outage keep the outbox bounded too: the latest of each step is kept and sent once there is room, before the result", () => {
  const job = offline();
  // A progress step updated on every item, and a chatty log, while the controller is away.
  for (let i = 1; i <= 200_000; i++) {
    job.step({ id: "progress", status: "running", message: `item ${i} of 200000 ${"y".repeat(100)}` });
    if (i % 1000 === 0) job.log(batch(i, 50));
  }
  job.step({ id: "other", name: "Other", status: "running" });
  job.step({ id: "other", status: "succeeded" });
  expect(chars(job.pending())).toBeLessThanOrEqual(MAX_UNACKED_LOG_CHARS + 300 * 1024);
  void job.complete({ status: "succeeded", output: null, startedAt: 1, finishedAt: 2 });
  const steps = job.pending().filter((m) => m.type === "step").map((m) => (m as Extract<RunnerMessage, { type: "step" }>).step);
  // The final state of each step is there (updates merge by id), whatever was held back.
  const last = (id: string) => steps.filter((s) => s.id === id).reduce((merged, s) => ({ ...merged, ...s }), {});
  expect(last("progress")).toMatchObject({ status: "running", message: expect.stringMatching(/^item 200000 of 200000/) });
  expect(last("other")).toMatchObject({ name: "Other", status: "succeeded" });
  expect(steps.length).toBeLessThan(200_000);
  const seqs = job.pending().map((m) => (m as { seq?: number }).seq).filter((n) => n !== undefined);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
});

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("through a real controller: a plugin writing 60,000 lines (15 MB) in one burst gets a prefix of them in order, then the count of the rest, then its result", async () => {
  const total = 60_000;
  const burst: JobExecutor = {
    async run(request) {
      // Synchronous: no acknowledgement can arrive while it runs, the worst case for the outbox.
      for (let i = 1; i <= total; i++) request.onLog({ ts: i, level: "info", msg: `line ${i} ${"x".repeat(240)}` });
      return { status: "succeeded", output: { ok: true } };
    },
    workers: () => [],
    close: async () => {},
  };
  const tmp = tempDir();
  const { controller } = await startController({ dataDir: tmp.dir });
  const { runner, records } = startRunner({ controller, executor: burst });
  cleanups.push(tmp.remove, () => controller.close(), () => runner.drain());
  const job = controller.submitJob({ plugin: "echo" });
  expect((await controller.waitForJob(job.id, 30_000)).status).toBe("succeeded");
  const logged = (await controller.core.logs.read(job.id, 0, 1_000_000)).flatMap((e) => (e.type === "log" ? e.lines : []));
  const marker = logged.at(-1)!;
  const kept = logged.slice(0, -1).map((l) => l.ts);
  expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i + 1));
  expect(marker).toMatchObject({ level: "warn", msg: expect.stringMatching(new RegExp(`^${total - kept.length} log lines dropped: `)) });
  expect(kept.length).toBeLessThan(total);
  expect(records.some((r) => r.level === "warn" && String(r.msg).startsWith(`Dropping log lines of job "${job.id}" attempt 1`))).toBe(true);
});

test("a plugin thread logging 1,000,000 lines (200 MB) faster than the runner takes them: a bounded window, then the count of the rest", async () => {
  const plugin = new URL("fixtures/last-words.ts", import.meta.url).pathname;
  const { pool } = testPool({ resolve: (ref) => fileBundleSource(plugin, ref.name, "0.0.1") });
  cleanups.push(() => pool.close());
  await pool.prewarm("last-words@0.0.1");
  const total = 1_000_000;
  const msgs: string[] = [];
  let stepAt = -1;
  let peak = 0;
  const before = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const r = request("last-words", "flood", {
    input: total,
    timeoutMs: 120_000,
    onLog: (line) => {
      msgs.push(line.msg.length > 40 ? line.msg.slice(0, 40) : line.msg);
      // A runner thread slower than the plugin, whatever the machine.
      if (msgs.length % 1000 === 0) Bun.sleepSync(1);
    },
    onStep: () => (stepAt = msgs.length),
  });
  const outcome = await pool.run(r);
  clearInterval(sampler);
  expect(outcome.status).toBe("succeeded");
  const markers = msgs.map((m, i) => [i, /^(\d+) log lines dropped: /.exec(m)?.[1]] as const).filter(([, n]) => n !== undefined);
  expect(markers.length).toBeGreaterThan(0);
  const dropped = markers.reduce((sum, [, n]) => sum + Number(n), 0);
  expect(msgs.length - markers.length + dropped).toBe(total);
  // Every loss is said where it happened: before the step the plugin reported after its lines.
  expect(stepAt).toBe(msgs.length);
  // Lines keep their order around the gaps.
  const numbers = msgs.filter((m) => m.startsWith("line ")).map((m) => Number(m.split(" ")[1]));
  expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);
  // Was 440 MB above the start here; the window holds 4 MiB of text. Generous: GC timing varies.
  expect(peak - before).toBeLessThan(200 * 1024 * 1024);
}, 180_000);

test("a plugin thread reporting 1,000,000 step updates faster than the runner takes them: bounded, and each step's latest state arrives", async () => {
  const plugin = new URL("fixtures/last-words.ts", import.meta.url).pathname;
  const { pool } = testPool({ resolve: (ref) => fileBundleSource(plugin, ref.name, "0.0.1") });
  cleanups.push(() => pool.close());
  await pool.prewarm("last-words@0.0.1");
  const steps: Array<{ id: string; status: string; message?: string }> = [];
  let peak = 0;
  const before = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const r = request("last-words", "progress", {
    input: 1_000_000,
    timeoutMs: 120_000,
    onStep: (step) => {
      steps.push(step.message === undefined ? step : { ...step, message: step.message.slice(0, 20) });
      if (steps.length % 1000 === 0) Bun.sleepSync(1);
    },
  });
  expect((await pool.run(r)).status).toBe("succeeded");
  clearInterval(sampler);
  expect(steps.at(-1)).toMatchObject({ id: "progress", status: "succeeded" });
  expect(steps.filter((s) => s.message?.startsWith("item 1000000 ")).length).toBe(1);
  expect(steps.length).toBeLessThan(1_000_000);
  expect(peak - before).toBeLessThan(200 * 1024 * 1024);
}, 180_000);
