// What runs a runner's jobs: the plugin pool (worker threads), signed bundles from the
// controller, artifacts, secret references and encrypted inputs. runner-service.ts imports this
// module at the first job (or when a plugin policy asks for warm workers), not at start: it is
// most of the runner's code and no part of being ready (docs/performance.md, start-up).

import type { Config } from "../config/resolve.ts";
import type { Logger } from "../log/logger.ts";
import { defaultControllerClient, type ControllerClient } from "../platform/controller-client.ts";
import { runnerBundleResolver } from "../plugin-bundles/runner-bundles.ts";
import { PluginPool } from "../plugins/pool.ts";
import type { PoolPolicy } from "../plugins/pool-policy.ts";
import { jobSecretResolver } from "../plugins/run-services.ts";
import { controllerArtifactSink } from "../runner/controller-artifacts.ts";
import type { JobExecutor } from "../runner/job-executor.ts";
import { SecretInputsExecutor } from "../runner/secret-inputs-executor.ts";
import type { RunnerKeyRing } from "../secrets/key-ring.ts";
import type { SecretBackends } from "../secrets/references/secret-backends.ts";
import type { RunnerMetrics } from "../status/metrics.ts";
import type { StorageService } from "../storage/storage-service.ts";

export interface RunnerExecutorOptions {
  config: Config;
  /** The controller the edge connection uses now (several URLs: the current one). */
  controllerUrl: () => string;
  runnerId: string;
  apiKey: string;
  /** The controller's client when caFile is set (bundles use its TLS trust). */
  client: ControllerClient | undefined;
  logger: Logger;
  metrics: RunnerMetrics;
  policy: PoolPolicy;
  storage: StorageService;
  backends: SecretBackends;
  ring: () => RunnerKeyRing;
  /** A meshStack run's secrets (meshstack:inputs.KEY, …), for a meshStack runner; else undefined. */
  meshSecrets: ((runUuid: string) => Readonly<Record<string, string>> | undefined) | undefined;
  meshstack: boolean;
}

export function buildRunnerExecutor(o: RunnerExecutorOptions): { executor: JobExecutor; pool: PluginPool } {
  const { config, controllerUrl, runnerId, apiKey, client, logger } = o;
  const secrets = (request: { jobId: string; attempt: number; declaredSecrets?: readonly string[] }) => ({
    get: (ref: string, signal: AbortSignal) => o.backends.resolve(ref, { jobId: request.jobId, attempt: request.attempt, ...(request.declaredSecrets === undefined ? {} : { declared: request.declaredSecrets }) }, signal),
  });
  const artifactSink = controllerArtifactSink({ controllerUrl, runnerId, apiKey, ...(client === undefined ? {} : { client }) });
  const pool = new PluginPool({
    idleMs: config.workerIdleMs,
    maxWorkerHeapMb: config.workerMaxHeapMb,
    policy: o.policy,
    storage: o.storage,
    artifactMaxBytes: config.artifactMaxBytes,
    // Artifacts go to the reference controller; a meshStack runner has no destination for them yet.
    ...(o.meshstack ? {} : { artifacts: () => artifactSink }),
    // A meshStack run's secrets are the ones its adapter decrypted (meshstack:inputs.KEY, meshstack:implementation.FIELD).
    secrets: o.meshstack ? (request) => jobSecretResolver(request.jobId, o.meshSecrets?.(request.jobId)) : secrets,
    logger,
    // meshStack serves no plugin bundles: its runs use the built-in integrations.
    ...(o.meshstack ? {} : { resolve: runnerBundleResolver({
      controllerUrl,
      runnerId,
      apiKey,
      dataDir: config.dataDir,
      ...(config.trustedKeys === undefined ? {} : { trustedKeys: config.trustedKeys }),
      maxBytes: config.pluginMaxBytes,
      recheckMs: config.bundleRecheckMs,
      logger,
      onRefused: (code) => o.metrics.bundleRefused(code),
      // Bundles come from the controller, so they use its client: its TLS trust (caFile), and its
      // proxy (Node's global fetch takes none: docs/operations.md, "Behind a proxy").
      fetch: ((input: string | URL | Request, init?: RequestInit) => (client ?? defaultControllerClient).fetch(String(input), init)) as typeof fetch,
    }) }),
  });
  return { executor: new SecretInputsExecutor(pool, o.ring), pool };
}
