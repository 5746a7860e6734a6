// Storage benchmark: a plugin streams 500 MiB into ctx.storage and back out, through the real
// pool and worker boundary, against the local backend and against s3rver (in its own process).
// Reported: MiB/s each way and the runner process's peak resident memory while it ran, beside
// the floor measured in the same run (the same stream generated and consumed inside the plugin
// without storage, and the RSS before the run). Run: `node_modules/.bin/bun scripts/bench-storage.ts [--size-mib N] [--json]`.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../src/log/logger.ts";
import { fileBundleSource } from "../src/plugins/plugin-ref.ts";
import { PluginPool } from "../src/plugins/pool.ts";
import { LocalObjectStore } from "../src/storage/local-store.ts";
import type { ObjectStore } from "../src/storage/object-store.ts";
import { createS3Store } from "../src/storage/s3-store.ts";
import { StorageService } from "../src/storage/storage-service.ts";

const args = process.argv.slice(2);
const json = args.includes("--json");
const sizeAt = args.indexOf("--size-mib");
const MIB = 1024 * 1024;
const SIZE = (sizeAt >= 0 ? Number(args[sizeAt + 1]) : 500) * MIB;
const PART = 8 * MIB;
const quiet = new Logger({ level: "error" });
const dir = mkdtempSync(join(tmpdir(), "edge-runner-bench-storage-"));
const pluginPath = new URL("./bench/storage-plugin.ts", import.meta.url).pathname;

async function startS3rver(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [new URL("./bench/s3rver-process.ts", import.meta.url).pathname, join(dir, "s3rver"), "bench"], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on("exit", (code) => reject(new Error(`s3rver exited ${code}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: async () => { child.kill("SIGTERM"); await new Promise((r) => child.once("exit", r)); } };
}

/** Samples this process's RSS every 20 ms while `work` runs; returns its result and the peak. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMib: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  try {
    const result = await work();
    return { result, peakMib: Math.max(peak, process.memoryUsage().rss) / MIB };
  } finally {
    clearInterval(timer);
  }
}

async function measure(name: string, store: ObjectStore): Promise<Record<string, number | string>> {
  const storage = new StorageService({ store, runnerId: "bench", limits: { maxObjectBytes: 2 * SIZE, maxJobBytes: 2 * SIZE }, logger: quiet, sweepGraceMs: 0, sweepIntervalMs: 0 });
  const pool = new PluginPool({ idleMs: 60_000, logger: quiet, storage, resolve: () => fileBundleSource(pluginPath, "storage-bench", "0.0.1") });
  const run = (action: string) => pool.run({ jobId: `${name}-${action}`, attempt: 1, plugin: "storage-bench", action, input: { size: SIZE }, timeoutMs: 600_000, signal: new AbortController().signal, onLog: () => undefined, onStep: () => undefined });
  // The floor: same plugin, same stream, no storage. Also warms the worker.
  const floorRun = await run("floor");
  Bun.gc(true);
  const before = process.memoryUsage().rss / MIB;
  const { result, peakMib } = await peakRss(() => run("roundTrip"));
  await pool.close();
  await storage.close();
  if (result.status !== "succeeded") throw new Error(`${name}: ${JSON.stringify(result.error)}`);
  const out = result.output as { stored: number; read: number; upMs: number; downMs: number };
  const floor = floorRun.output as { ms: number };
  if (out.stored !== SIZE || out.read !== SIZE) throw new Error(`${name}: stored ${out.stored}, read ${out.read}, expected ${SIZE}`);
  const rate = (ms: number) => (SIZE / MIB / (ms / 1000)).toFixed(0);
  return { backend: name, sizeMib: SIZE / MIB, uploadMibS: rate(out.upMs), downloadMibS: rate(out.downMs), floorMibS: rate(floor.ms), rssBeforeMib: before.toFixed(0), peakRssMib: peakMib.toFixed(0), peakGrowthMib: (peakMib - before).toFixed(0) };
}

const rows: Array<Record<string, number | string>> = [];
try {
  rows.push(await measure("local", new LocalObjectStore(join(dir, "local"))));
  const s3 = await startS3rver();
  try {
    rows.push(await measure("s3rver", createS3Store({ bucket: "bench", prefix: "bench", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }, partSizeBytes: PART })));
  } finally {
    await s3.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (json) {
  process.stdout.write(JSON.stringify({ rows }) + "\n");
} else {
  console.log(`Storage: a plugin streams ${SIZE / MIB} MiB into ctx.storage and back (S3 part size ${PART / MIB} MiB)`);
  console.log("backend  upload MiB/s  download MiB/s  floor MiB/s (no storage)  RSS before  peak RSS  growth");
  for (const r of rows) console.log(`${String(r.backend).padEnd(8)} ${String(r.uploadMibS).padStart(12)}  ${String(r.downloadMibS).padStart(14)}  ${String(r.floorMibS).padStart(24)}  ${String(r.rssBeforeMib).padStart(7)} MiB  ${String(r.peakRssMib).padStart(5)} MiB  ${String(r.peakGrowthMib).padStart(4)} MiB`);
}
