// Plugin benchmarks: cold start of a signed 1 MiB bundle (download + verify + cache + worker start
// + first job), warm dispatch of a no-op job, and resident memory per warm worker, for threads and
// for process isolation. Run: `node_modules/.bin/bun scripts/bench-plugins.ts [--json]`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { Logger } from "../src/log/logger.ts";
import { sha256Digest } from "../src/plugin-bundles/digest.ts";
import type { BundleManifest } from "../src/plugin-bundles/manifest.ts";
import { runnerBundleResolver } from "../src/plugin-bundles/runner-bundles.ts";
import { signManifest } from "../src/plugin-bundles/sign-manifest.ts";
import { PluginPool } from "../src/plugins/pool.ts";
import { PoolPolicy, type Isolation } from "../src/plugins/pool-policy.ts";
import type { RunRequest } from "../src/plugins/pool-options.ts";
import { ReferenceController } from "../src/reference-controller/controller.ts";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

const COLD_RUNS = 10;
const WARM_RUNS = 3000;
const WARM_WORKERS = 8;
const BUNDLE_BYTES = 1024 * 1024;
const json = process.argv.includes("--json");
const quiet = new Logger({ level: "error" });
const dir = mkdtempSync(join(tmpdir(), "edge-runner-bench-plugins-"));

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function request(plugin: string, jobId: string): RunRequest {
  return { jobId, attempt: 1, plugin, action: "noop", input: null, timeoutMs: 60_000, signal: new AbortController().signal, onLog: () => undefined, onStep: () => undefined };
}

function childrenRssMb(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync("/proc/self/task")) {
    for (const pid of readFileSync(`/proc/self/task/${tid}/children`, "utf8").split(" ").filter(Boolean)) {
      out.push(Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096 / 2 ** 20);
    }
  }
  return out;
}

function rssMb(): number {
  Bun.gc(true);
  return process.memoryUsage().rss / 2 ** 20;
}

// A 1 MiB bundle: the plugin plus a string constant, so parsing and hashing see the full size.
const head = `const PAD = "`;
const tail = `";\nexport default { name: "bench", version: "1.0.0", actions: { noop: () => PAD.length } };\n`;
const bundle = new TextEncoder().encode(head + "x".repeat(BUNDLE_BYTES - head.length - tail.length) + tail);
const manifest: BundleManifest = { name: "bench", version: "1.0.0", digest: sha256Digest(bundle), size: bundle.byteLength, sdkVersion: "bench", builtAt: new Date().toISOString(), actions: ["noop"] };
const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const publicJwk = await exportJWK(publicKey);
const kid = await calculateJwkThumbprint(publicJwk);
const signature = await signManifest(manifest, { kid, key: privateKey as CryptoKey });
mkdirSync(join(dir, "trusted"));
writeFileSync(join(dir, "trusted", "bench.jwk"), JSON.stringify({ ...publicJwk, kid }));

const controller = await ReferenceController.start({ dataDir: join(dir, "controller"), logger: quiet, adminToken: "bench-admin-token" });
const { apiKey } = await controller.registerRunner({ id: "bench" } as Parameters<typeof controller.registerRunner>[0]);
const put = await fetch(`${controller.url}/api/v1/plugins/bench/1.0.0`, {
  method: "PUT",
  body: bundle,
  headers: { authorization: "Bearer bench-admin-token", "x-edge-plugin-manifest": Buffer.from(JSON.stringify(manifest)).toString("base64url"), "x-edge-plugin-signature": signature },
});
if (put.status !== 201) throw new Error(`Cannot publish the bench bundle: ${put.status} ${await put.text()}`);

function pool(isolation: Isolation, dataDir: string, maxWorkers = 1, recheckMs = 0): PluginPool {
  return new PluginPool({
    idleMs: 60_000,
    logger: quiet,
    policy: new PoolPolicy({ maxWorkers, maxJobsPerWorker: 1_000_000, idleMs: 60_000, prewarm: 0, isolation }),
    resolve: runnerBundleResolver({ controllerUrl: controller.url, runnerId: "bench", apiKey, dataDir, trustedKeys: join(dir, "trusted"), maxBytes: 32 * 2 ** 20, logger: quiet, recheckMs }),
  });
}

const results: Record<string, unknown> = { bundleBytes: bundle.byteLength, runtime: "bun", cpus: navigator.hardwareConcurrency };
for (const isolation of ["thread", "process"] as const) {
  const cold: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    // A fresh data dir each time: nothing cached, nothing warm.
    const p = pool(isolation, join(dir, `cold-${isolation}-${i}`));
    const started = performance.now();
    const outcome = await p.run(request("bench@1.0.0", `cold-${i}`));
    cold.push(performance.now() - started);
    if (outcome.status !== "succeeded") throw new Error(`Cold run failed: ${JSON.stringify(outcome)}`);
    await p.close();
  }
  const warmPool = pool(isolation, join(dir, `warm-${isolation}`));
  await warmPool.run(request("bench@1.0.0", "warmup"));
  const warm: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const started = performance.now();
    await warmPool.run(request("bench@1.0.0", `warm-${i}`));
    warm.push(performance.now() - started);
  }
  await warmPool.close();
  // The runner's default: a verified resolution is reused for bundleRecheckMs (30 s).
  const reusePool = pool(isolation, join(dir, `reuse-${isolation}`), 1, 30_000);
  await reusePool.run(request("bench@1.0.0", "warmup"));
  const reuse: number[] = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    const started = performance.now();
    await reusePool.run(request("bench@1.0.0", `reuse-${i}`));
    reuse.push(performance.now() - started);
  }
  await reusePool.close();

  const memPool = pool(isolation, join(dir, `mem-${isolation}`), WARM_WORKERS);
  await memPool.run(request("bench@1.0.0", "load"));
  const before = rssMb();
  await memPool.prewarm("bench@1.0.0", WARM_WORKERS);
  await Promise.all(Array.from({ length: WARM_WORKERS }, (_, i) => memPool.run(request("bench@1.0.0", `m-${i}`))));
  const after = rssMb();
  // In process mode each worker's memory is its own process's: read the children's RSS from /proc.
  const childRss = isolation === "process" ? childrenRssMb() : [];
  const heaps = memPool.workers().map((w) => (w.memoryBytes ?? 0) / 2 ** 20);
  await memPool.close();
  results[isolation] = {
    coldStartMs: { p50: quantile(cold, 0.5), max: Math.max(...cold) },
    warmDispatchMs: { p50: quantile(warm, 0.5), p99: quantile(warm, 0.99) },
    warmDispatchReuseMs: { p50: quantile(reuse, 0.5), p99: quantile(reuse, 0.99) },
    runnerRssPerWarmWorkerMb: (after - before) / (WARM_WORKERS - 1),
    workerHeapMb: quantile(heaps, 0.5),
    ...(childRss.length > 0 ? { childRssPerWorkerMb: quantile(childRss, 0.5) } : {}),
  };
}
await controller.close();
rmSync(dir, { recursive: true, force: true });

if (json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
else {
  const f = (n: number): string => n.toFixed(n < 1 ? 3 : 1);
  console.log(`Plugin bench (Bun, ${String(results.cpus)} CPUs, ${BUNDLE_BYTES / 2 ** 20} MiB bundle)`);
  for (const isolation of ["thread", "process"] as const) {
    const r = results[isolation] as { coldStartMs: { p50: number; max: number }; warmDispatchMs: { p50: number; p99: number }; warmDispatchReuseMs: { p50: number; p99: number }; runnerRssPerWarmWorkerMb: number; workerHeapMb: number; childRssPerWorkerMb?: number };
    const child = r.childRssPerWorkerMb === undefined ? "" : `, child process RSS ${f(r.childRssPerWorkerMb)} MiB each`;
    console.log(`  ${isolation.padEnd(7)} cold start p50 ${f(r.coldStartMs.p50)} ms (max ${f(r.coldStartMs.max)}), warm dispatch p50 ${f(r.warmDispatchMs.p50)} ms p99 ${f(r.warmDispatchMs.p99)} ms (re-verified every job), ${f(r.warmDispatchReuseMs.p50)} ms p99 ${f(r.warmDispatchReuseMs.p99)} ms (bundleRecheckMs 30 s), runner RSS per warm worker ${f(r.runnerRssPerWarmWorkerMb)} MiB${child}, worker heap ${f(r.workerHeapMb)} MiB`);
  }
}
