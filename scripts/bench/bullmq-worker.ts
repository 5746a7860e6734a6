// The BullMQ side of section 8's latency rows, in its own process as edge-runner's runner is:
// `bun scripts/bench/bullmq-worker.ts <redis port> <queue> <concurrency>`. The job's code reads
// the clock on its first line (the same `performance.timeOrigin + performance.now()` as the
// edge-runner job in clock-bundle.ts) and returns it; nothing else. Prints "ready" once the
// worker is connected; closes on SIGTERM.

import { Worker } from "bullmq";

const [port, queue, concurrency] = process.argv.slice(2);
if (port === undefined || queue === undefined || concurrency === undefined) {
  process.stderr.write("usage: bullmq-worker.ts <redis port> <queue> <concurrency>\n");
  process.exit(64);
}
const worker = new Worker(
  queue,
  async () => {
    const at = performance.timeOrigin + performance.now();
    return { at };
  },
  { connection: { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null }, concurrency: Number(concurrency) },
);
worker.on("error", (error) => process.stderr.write(`bullmq-worker: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void worker.close().then(() => process.exit(0));
});
