// Test harness: an in-process reference controller on 127.0.0.1:0 and runners wired to it,
// so runner tests exercise the real protocol over real sockets without spawning processes.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ReferenceController, type ReferenceControllerOptions } from "../../src/reference-controller/controller.ts";
import { EdgeConnection } from "../../src/controller/edge/edge-connection.ts";
import type { TransportOpener } from "../../src/controller/edge/opener.ts";
import { PluginPool } from "../../src/plugins/pool.ts";
import { Runner } from "../../src/runner/runner.ts";
import { controllerSecretResolver } from "../../src/runner/controller-secrets.ts";
import { memoryLogger, type Logger, type LogRecord } from "../../src/log/logger.ts";
import type { JobExecutor } from "../../src/runner/job-executor.ts";
import { generateKeyPairSync } from "node:crypto";
import { RunnerKeyRing, ringKeyOf } from "../../src/secrets/key-ring.ts";
import { SecretInputsExecutor } from "../../src/runner/secret-inputs-executor.ts";
import type { ControllerClient } from "../../src/platform/controller-client.ts";
import { ResultSpoolFront } from "../../src/controller/edge/result-spool-front.ts";
import { sleep } from "../../src/util/time.ts";

let sharedRing: RunnerKeyRing | undefined;
/** One RSA-2048 key ring for every test runner (made once: key generation is slow). */
export function testKeyRing(): RunnerKeyRing {
  sharedRing ??= new RunnerKeyRing("(memory)", [ringKeyOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string, true, "(memory)")]);
  return sharedRing;
}

export function tempDir(prefix = "edge-runner-test-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startController(options: Partial<ReferenceControllerOptions> & { dataDir: string }) {
  const { logger, records } = memoryLogger("warn");
  const controller = await ReferenceController.start({ logger, leaseTtlMs: 5000, heartbeatIntervalMs: 1000, pollWaitMs: 2000, ...options });
  return { controller, records };
}

export interface TestRunnerOptions {
  controller: ReferenceController;
  runnerId?: string;
  group?: string;
  apiKey?: string;
  transport?: "websocket" | "poll" | "auto";
  concurrency?: number;
  /** Local prefetch: offered jobs held beyond concurrency, and how long at most. */
  prefetch?: number;
  prefetchHoldMs?: number;
  drainTimeoutMs?: number;
  executor?: JobExecutor;
  /** Default the controller's own URL; a list tries each in order with failover. */
  controllerUrl?: string | readonly string[];
  /** The runner's key ring; default testKeyRing(), told to the controller at start. */
  ring?: RunnerKeyRing;
  /** HTTP and WebSocket clients (a test may route them, as a load balancer would). */
  client?: ControllerClient;
  /** How sessions and transports open (default: over the network), e.g. to play an older controller. */
  opener?: TransportOpener;
  /** A result spool in this directory (`<dataDir>/results`), its key file beside it; none by default. */
  resultSpoolDir?: string;
}

export function startRunner(options: TestRunnerOptions): { runner: Runner; connection: EdgeConnection; executor: JobExecutor; logger: Logger; records: LogRecord[] } {
  const { logger, records } = memoryLogger("debug");
  const runnerId = options.runnerId ?? "r1";
  const group = options.group ?? "default";
  // Registered in memory like the admin API does (its batch is the next one): startRunner() stays synchronous.
  const apiKey = options.apiKey ?? options.controller.runners.register({ id: runnerId, group }).apiKey;
  const ring = options.ring ?? testKeyRing();
  options.controller.runners.setEncryptionKeys(runnerId, ring.publicJwks());
  let connection: EdgeConnection | undefined;
  const secrets = controllerSecretResolver({ controllerUrl: () => connection?.currentUrl() ?? options.controller.url, runnerId, apiKey, ring: () => ring });
  const executor = options.executor ?? new SecretInputsExecutor(new PluginPool({ idleMs: 60_000, logger, cancelGraceMs: 200, secrets: (request) => secrets(request) }), () => ring);
  let runner: Runner | undefined;
  connection = new EdgeConnection({
    controllerUrl: options.controllerUrl ?? options.controller.url,
    runnerId,
    group,
    apiKey,
    version: "test",
    transport: options.transport ?? "websocket",
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    startJitterMs: 0,
    logger,
    onTick: (loop, ms) => runner?.loops.tick(loop, ms),
    ...(options.client === undefined ? {} : { client: options.client }),
    ...(options.opener === undefined ? {} : { opener: options.opener }),
    ...(options.resultSpoolDir === undefined ? {} : { resultSpool: new ResultSpoolFront({ dir: options.resultSpoolDir, apiKey, keyFile: `${options.resultSpoolDir}.key`, logger, sleep }) }),
  });
  runner = new Runner({
    runnerId,
    group,
    controllerUrl: options.controller.url,
    concurrency: options.concurrency ?? 4,
    ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
    ...(options.prefetchHoldMs === undefined ? {} : { prefetchHoldMs: options.prefetchHoldMs }),
    jobTimeoutMs: 30_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    connection,
    executor,
    logger,
    flushTimeoutMs: 3000,
  });
  runner.start();
  return { runner, connection, executor, logger, records };
}

/** Polls `check` every 10 ms until it returns a value other than undefined (bounded by `timeoutMs`). */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
