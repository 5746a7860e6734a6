// Section 8, latency beside BullMQ: submit call → first line of the job's code, one job at a time
// on an idle system, the two systems interleaved job by job (the order swapped every job) so both
// see the same machine load. Both sides are three processes:
//   edge-runner: this process submits (admin API `POST /api/v1/jobs`), the compiled
//     `edge-runner controller` (journal on disk, fsync'd) and the compiled `edge-runner run`;
//   BullMQ: this process submits (`queue.add()`), redis-server (`appendfsync always`) and a
//     worker process (bullmq-worker.ts).
// Both jobs are no-ops whose first line reads the clock (clock-bundle.ts, bullmq-worker.ts) and
// return it; this process reads the same clock just before the submit call. The result is read
// after the job ends (`GET /api/v1/jobs/:id/wait`, `job.waitUntilFinished()`), outside the
// measured interval. Both acknowledge a submit only after an fsync.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import * as path from "node:path";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { clockBundle, CLOCK_PLUGIN, wallNow } from "./clock-bundle.ts";
import { adminApi, startController } from "./fleet-bench.ts";
import { startChild, stopChild } from "./processes.ts";
import type { RedisProcess } from "./redis-process.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface LatencyPeerOptions {
  binary: string;
  /** Parent of the controller's data directory (the same disk as Redis's). */
  parentDir: string;
  redis: RedisProcess;
  /** Slots of the runner and of the BullMQ worker. */
  concurrency: number;
  rounds: number;
  warmup: number;
  /** Jobs per side per round. */
  samples: number;
}

export interface LatencySide {
  /** Submit call → first line of the job's code. */
  firstLine: LatencySummary;
  /** Submit call → the call answered (the job is durable). */
  submitCall: LatencySummary;
}

export interface LatencyRound {
  edge: LatencySide;
  bull: LatencySide;
  /** The floor: one append + fsync on the disk both stores write to, sampled between the round's jobs. */
  fsync: LatencySummary;
  /** Round trips without a job, interleaved with the jobs: `GET /api/v1/health` of the controller, Redis `PING`. */
  httpRoundTrip: LatencySummary;
  redisPing: LatencySummary;
  /** `POST /api/v1/jobs` of a job no runner takes (a group nobody serves): the submit call without the dispatch that overlaps its answer. */
  submitUntaken: LatencySummary;
}

export interface Sample {
  firstLineMs: number;
  submitCallMs: number;
}

/**
 * edge-runner's side: the compiled `edge-runner controller` (journal in `dir`) and `edge-runner
 * run` processes, the clock bundle published and trusted; `job()` submits one `first` job and
 * reads its result once it ended (also used by latency-ab.ts, two builds side by side).
 */
export async function startEdgeLatencyStack(binary: string, dir: string, children: Set<ChildProcess>, concurrency: number) {
  const controller = await startController(binary, dir, children);
  const api = adminApi(controller.url, controller.token);
  const bundle = await clockBundle();
  await bundle.publish(controller.url, controller.token);
  const runnerDir = path.join(dir, "runner");
  bundle.trust(path.join(runnerDir, "trusted-keys"));
  const keyFile = path.join(dir, "latency.key");
  writeFileSync(keyFile, (await api.registerRunner("latency")).apiKey, { mode: 0o600 });
  children.add(startChild(binary, [
    "run", "--runner-id", "latency", "--api-key-file", keyFile, "--controller-url", controller.url, "--status-port", "0",
    "--start-jitter", "0", "--concurrency", String(concurrency), "--data-dir", runnerDir, "--log-level", "warn",
  ]));
  await api.waitSessions(1, 30_000);
  let n = 0;
  const job = async (): Promise<Sample> => {
    const submitAt = wallNow();
    const submitted = await api.submit({ plugin: CLOCK_PLUGIN, action: "first", input: { n: n++ } });
    const answeredAt = wallNow();
    const done = await api.wait(submitted.id, 30_000);
    if (done.status !== "succeeded") throw new Error(`Cannot trust the latency bench: edge-runner job ${submitted.id} ended ${done.status}: ${JSON.stringify(done.error)}`);
    return { firstLineMs: (done.output as { at: number }).at - submitAt, submitCallMs: answeredAt - submitAt };
  };
  return { controller, api, job };
}

export async function latencyBesideBullmq(options: LatencyPeerOptions, onRound?: (round: LatencyRound, index: number) => void): Promise<LatencyRound[]> {
  const dir = mkdtempSync(path.join(options.parentDir, "edge-runner-bench-latency-"));
  const children = new Set<ChildProcess>();
  const queueName = `latency-${process.pid}`;
  const connection = { host: "127.0.0.1", port: options.redis.port, maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection, defaultJobOptions: { removeOnComplete: 1000, removeOnFail: 1000 } });
  const events = new QueueEvents(queueName, { connection });
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const edge = await startEdgeLatencyStack(options.binary, dir, children, options.concurrency);
    const { controller, api } = edge;

    // BullMQ: the worker process.
    const worker = spawn(process.execPath, [new URL("./bullmq-worker.ts", import.meta.url).pathname, String(options.redis.port), queueName, String(options.concurrency)], { stdio: ["ignore", "pipe", "inherit"] });
    children.add(worker);
    await new Promise<void>((resolve, reject) => {
      let out = "";
      worker.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        if (out.includes("ready\n")) resolve();
      });
      worker.once("exit", (code) => reject(new Error(`Cannot start the BullMQ worker process: it exited ${code}`)));
    });
    await events.waitUntilReady();

    let n = 0;
    const edgeJob = edge.job;
    const bullJob = async (): Promise<Sample> => {
      const submitAt = wallNow();
      const job = await queue.add("noop", { n: n++ });
      const answeredAt = wallNow();
      const output = (await job.waitUntilFinished(events, 30_000)) as { at: number };
      return { firstLineMs: output.at - submitAt, submitCallMs: answeredAt - submitAt };
    };

    // A client of its own (BullMQ's Queue talks to Redis through ioredis too).
    const redisClient = new Redis({ host: "127.0.0.1", port: options.redis.port, lazyConnect: false });
    closers.push(() => redisClient.quit());
    const roundTrip = async (call: () => Promise<unknown>): Promise<number> => {
      const at = wallNow();
      await call();
      return wallNow() - at;
    };
    const health = async () => (await fetch(`${controller.url}/api/v1/health`)).arrayBuffer();
    // The journal-like append the fsync floor times: a file of its own beside the stores' data.
    const probe = openSync(path.join(dir, "fsync-probe.jsonl"), "a", 0o600);
    closers.push(async () => closeSync(probe));
    const line = Buffer.from(`${JSON.stringify({ t: "job", pad: "x".repeat(280) })}\n`);
    const appendFsync = async () => {
      writeSync(probe, line);
      fsyncSync(probe);
    };

    for (let i = 0; i < options.warmup; i++) {
      await edgeJob();
      await bullJob();
    }
    const rounds: LatencyRound[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const edge: Sample[] = [];
      const bull: Sample[] = [];
      const http: number[] = [];
      const ping: number[] = [];
      const fsync: number[] = [];
      const untaken: number[] = [];
      for (let i = 0; i < options.samples; i++) {
        if (i % 3 === 0) {
          http.push(await roundTrip(health));
          ping.push(await roundTrip(() => redisClient.ping()));
          fsync.push(await roundTrip(appendFsync));
          untaken.push(await roundTrip(() => api.submit({ plugin: CLOCK_PLUGIN, action: "first", input: { n: n++ }, group: "bench-nobody" })));
        }
        if (i % 2 === 0) {
          edge.push(await edgeJob());
          bull.push(await bullJob());
        } else {
          bull.push(await bullJob());
          edge.push(await edgeJob());
        }
      }
      const side = (samples: Sample[]): LatencySide => ({ firstLine: summarize(samples.map((s) => s.firstLineMs)), submitCall: summarize(samples.map((s) => s.submitCallMs)) });
      const round = { edge: side(edge), bull: side(bull), fsync: summarize(fsync), httpRoundTrip: summarize(http), redisPing: summarize(ping), submitUntaken: summarize(untaken) };
      rounds.push(round);
      onRound?.(round, r);
    }
    return rounds;
  } finally {
    for (const close of closers) await close().catch(() => undefined);
    await events.close().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    await Promise.all([...children].map((child) => stopChild(child, children)));
    rmSync(dir, { recursive: true, force: true });
  }
}
