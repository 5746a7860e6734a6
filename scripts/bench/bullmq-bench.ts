// The peer of the 2d row: BullMQ on Redis with every write fsync'd before it is acknowledged
// (redis-process.ts), the same no-op job shape (input `{ n }`, nothing done, nothing logged or
// returned: edge-runner's side runs clock-bundle.ts's `noop`), the worker in
// this process as the runner is in 2d, Redis in its own as the controller is. A backlog is added
// first (not timed); the clock runs from the first job after warm-up until every job is
// completed (BullMQ's completion is a Redis script whose write is fsync'd before it answers).

import { Queue, Worker } from "bullmq";
import type { RedisProcess } from "./redis-process.ts";
import { cpuSeconds } from "./split-process-bench.ts";

export interface PeerOptions {
  redis: RedisProcess;
  concurrency: number;
  warmupJobs: number;
  jobs: number;
}

export interface PeerThroughput {
  concurrency: number;
  jobs: number;
  seconds: number;
  perSecond: number;
  /** CPU during the timed window as a share of one core: the worker (this process) and Redis. */
  workerCpu: number;
  redisCpu: number;
}

let round = 0;

export async function bullmqThroughput(options: PeerOptions): Promise<PeerThroughput> {
  const connection = { host: "127.0.0.1", port: options.redis.port, maxRetriesPerRequest: null };
  const name = `bench-${process.pid}-${++round}`;
  const queue = new Queue(name, { connection });
  const total = options.warmupJobs + options.jobs;
  try {
    for (let from = 0; from < total; from += 500) {
      const batch = Array.from({ length: Math.min(500, total - from) }, (_, i) => ({ name: "noop", data: { n: from + i } }));
      await queue.addBulk(batch);
    }
    let done = 0;
    let failed = 0;
    const waiters: Array<{ count: number; resolve: () => void }> = [];
    const worker = new Worker(name, async () => undefined, { connection, concurrency: options.concurrency, autorun: false });
    const settle = () => {
      for (const w of waiters.filter((x) => x.count <= done)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    };
    worker.on("completed", () => {
      done++;
      settle();
    });
    worker.on("failed", () => {
      done++;
      failed++;
      settle();
    });
    const reach = (count: number) => new Promise<void>((resolve) => {
      waiters.push({ count, resolve });
      settle();
    });
    void worker.run();
    await reach(options.warmupJobs);
    const startedAt = performance.now();
    const cpuBefore = process.cpuUsage();
    const redisBefore = cpuSeconds(options.redis.pid);
    await reach(total);
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const redisCpu = (cpuSeconds(options.redis.pid) - redisBefore) / seconds;
    await worker.close();
    if (failed > 0) throw new Error(`Cannot trust the BullMQ peer: ${failed} job(s) failed`);
    return { concurrency: options.concurrency, jobs: options.jobs, seconds, perSecond: options.jobs / seconds, workerCpu: (cpu.user + cpu.system) / 1e6 / seconds, redisCpu };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
  }
}
