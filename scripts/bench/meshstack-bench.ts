// meshStack adapter bench against the fake meshStack (test/meshstack/fake-meshstack.ts) over
// loopback: claim-to-first-status latency, and MANUAL runs per minute through one runner at
// concurrency 8 beside the floor measured in the same run, meshcloud's documented behaviour
// (one run at a time): instant runs (the built-in "manual" plugin) and runs that take 1 s
// ("echo" sleeping, standing in for a pipeline).

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { MeshstackConnection } from "../../src/controller/meshstack/meshstack-connection.ts";
import { RunOutboxStore } from "../../src/controller/meshstack/outbox.ts";
import { AtRestCipher } from "../../src/secrets/at-rest.ts";
import { Logger } from "../../src/log/logger.ts";
import { BUILTIN_PLUGINS } from "../../src/plugins/builtin/index.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import { Runner } from "../../src/runner/runner.ts";
import { FakeMeshstack } from "../../test/meshstack/fake-meshstack.ts";
import { summarize, type LatencySummary } from "./stats.ts";

export interface MeshstackBenchResult {
  plugin: string;
  claimToFirstStatus: LatencySummary;
  runsPerMinute: number;
  oneAtATimeRunsPerMinute: number;
  runs: number;
  /** Runs that take 1 s each (a pipeline's worth of waiting): where running several at once pays. */
  slowRunsPerMinute: number;
  slowOneAtATimeRunsPerMinute: number;
  slowRuns: number;
}

async function withRunner<T>(concurrency: number, pollIntervalMs: number, body: (fake: FakeMeshstack, runner: Runner) => Promise<T>, plugins?: Record<string, { plugin: string; action: string }>): Promise<T> {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const fake = await new FakeMeshstack({ clientId: "bench", clientSecret: "bench-secret", publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }) as string }).start();
  const dataDir = mkdtempSync(path.join(tmpdir(), "meshstack-bench-"));
  const logger = new Logger({ level: "error", sink: () => {} });
  const manual = BUILTIN_PLUGINS.has("manual");
  const connection = new MeshstackConnection({
    client: new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "bench", clientSecret: "bench-secret" }, runnerName: "edge-runner", runnerVersion: "bench", nodeId: "bench" }),
    runnerUuid: fake.runnerUuid,
    store: new RunOutboxStore(dataDir, new AtRestCipher(randomBytes(32), "meshStack outbox")),
    keys: () => [pair.privateKey],
    ...(plugins !== undefined ? { plugins } : manual ? {} : { plugins: { MANUAL: { plugin: "echo", action: "default" } } }),
    logger,
    pollIntervalMs,
    statusIntervalMs: 10_000,
    retryMinMs: 100,
    retryMaxMs: 2000,
  });
  const pool = new PluginPool({ idleMs: 60_000, logger });
  const runner = new Runner({ runnerId: fake.runnerUuid, group: "meshstack", controllerUrl: fake.url, concurrency, jobTimeoutMs: 60_000, drainTimeoutMs: 5000, connection, executor: pool, logger, flushTimeoutMs: 5000 });
  runner.start();
  try {
    return await body(fake, runner);
  } finally {
    await runner.interruptNow();
    await fake.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const INPUTS = [{ key: "name", value: "bench", type: "STRING" }, { key: "size", value: 3, type: "INTEGER" }];

async function untilEnded(fake: FakeMeshstack, uuids: string[]): Promise<void> {
  while (uuids.some((u) => fake.run(u).status === "IN_PROGRESS")) await new Promise((r) => setTimeout(r, 2));
}

/** Runs per minute for a backlog of `runs` MANUAL runs: from the first claim to the last final status. */
async function throughput(concurrency: number, runs: number, runMs = 0): Promise<number> {
  const inputs = runMs === 0 ? INPUTS : [...INPUTS, { key: "ms", value: runMs, type: "INTEGER" }];
  return withRunner(concurrency, 50, async (fake) => {
    // Warm: a backlog as deep as the slots, so every plugin worker has started before measuring.
    await untilEnded(fake, Array.from({ length: concurrency * (runMs === 0 ? 4 : 1) }, () => fake.addRun({ type: "MANUAL", inputs: INPUTS })));
    const uuids = Array.from({ length: runs }, () => fake.addRun({ type: "MANUAL", inputs }));
    await untilEnded(fake, uuids);
    const first = Math.min(...uuids.map((u) => fake.run(u).claimedAt as number));
    const last = Math.max(...uuids.map((u) => fake.run(u).finishedAt as number));
    return (runs / Math.max(1, last - first)) * 60_000;
  }, runMs === 0 ? undefined : { MANUAL: { plugin: "echo", action: "sleep" } });
}

export async function meshstackBench(options: { samples: number; runs: number; slowRuns: number }): Promise<MeshstackBenchResult> {
  const latencies = await withRunner(1, 20, async (fake) => {
    const out: number[] = [];
    for (let i = 0; i < options.samples + 5; i++) {
      const uuid = fake.addRun({ type: "MANUAL", inputs: INPUTS });
      await untilEnded(fake, [uuid]);
      const run = fake.run(uuid);
      if (i >= 5) out.push((run.updates[0]?.at as number) - (run.claimedAt as number));
    }
    return out;
  });
  return {
    plugin: BUILTIN_PLUGINS.has("manual") ? "manual" : "echo (no built-in manual plugin on this tree)",
    claimToFirstStatus: summarize(latencies),
    runsPerMinute: await throughput(8, options.runs),
    oneAtATimeRunsPerMinute: await throughput(1, options.runs),
    runs: options.runs,
    slowRunsPerMinute: await throughput(8, options.slowRuns, 1000),
    slowOneAtATimeRunsPerMinute: await throughput(1, options.slowRuns, 1000),
    slowRuns: options.slowRuns,
  };
}
