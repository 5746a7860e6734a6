// Assembles a runner from resolved config: logger, plugin pool, edge connection, status server.
// Used by `edge-runner run` and by `edge-runner dev` (which runs a controller beside it).

import type { Config } from "../config/resolve.ts";
import { ConfigError, primaryControllerUrl } from "../config/resolve.ts";
import { readSecretFile } from "../config/secret-file.ts";
import { redactor } from "../log/redact.ts";
import type { Logger } from "../log/logger.ts";
import { EdgeConnection } from "../controller/edge/edge-connection.ts";
import { ResultSpoolFront } from "../controller/edge/result-spool-front.ts";
import { sleep } from "../util/time.ts";
import { openStorageService } from "../storage/open-store.ts";
import { storageSection } from "../status/storage-section.ts";
import { parsePoolPolicy } from "../plugins/pool-policy.ts";
import { createStatusApp } from "../status/app.ts";
import { RunnerMetrics } from "../status/metrics.ts";
import { serveHttp, type HttpServer } from "../platform/http-server.ts";
import { endStartupJitPolicy } from "../platform/runtime.ts";
import { VERSION } from "../version.ts";
import { controllerClient } from "../platform/controller-client.ts";
import { readCaBundle } from "../config/ca-bundle.ts";
import { checkProxyEnv, proxySecrets } from "../platform/proxy.ts";
import { join } from "node:path";
import { Runner } from "../runner/runner.ts";
import { DeferredExecutor } from "../runner/deferred-executor.ts";
import { SecretBackends } from "../secrets/references/secret-backends.ts";
import { secretsSection } from "../status/secrets-section.ts";
import { backendOptionsFromConfig } from "../secrets/references/from-config.ts";
import { RunnerKeyService } from "../secrets/runner-key-service.ts";
import { defaultControllerClient } from "../platform/controller-client.ts";
import { hostList, insecureWarning, publicUrl } from "../config/url.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";

export interface RunnerService {
  runner: Runner;
  status: HttpServer;
  /** Drains and stops everything; resolves when done. A second call interrupts running jobs. */
  stop(): Promise<void>;
}

/** Checks what `run` needs beyond the table's own validation; throws ConfigError before any network call. */
export function runnerCredentials(config: Config): { runnerId: string; apiKey: string } {
  if (config.runnerId === undefined) {
    throw new ConfigError("runnerId", `Missing "runnerId": set --runner-id, EDGE_RUNNER_RUNNER_ID or "runnerId" in the config file`);
  }
  const apiKey = config.apiKey ?? (config.apiKeyFile !== undefined ? readSecretFile(config.apiKeyFile, "apiKeyFile") : undefined);
  if (apiKey === undefined) {
    throw new ConfigError("apiKeyFile", `Missing API key: set --api-key-file (preferred) or EDGE_RUNNER_API_KEY`);
  }
  redactor.add(apiKey);
  return { runnerId: config.runnerId, apiKey };
}


export async function startRunnerService(config: Config, logger: Logger): Promise<RunnerService> {
  // meshStack (controllerKind meshstack) is loaded only when asked for.
  const meshstack = config.controllerKind === "meshstack" ? await import("../controller/meshstack/from-config.ts") : undefined;
  const mesh = meshstack?.meshstackSettings(config);
  const { runnerId, apiKey } = mesh === undefined ? runnerCredentials(config) : { runnerId: mesh.runnerUuid, apiKey: "" };
  // What the runner connects to its controller with: no secret backend hands it to a job.
  const controllerCredentials = mesh === undefined ? [apiKey] : [mesh.auth.kind === "apiKey" ? mesh.auth.clientSecret : mesh.auth.password];
  // A proxy variable that is set but unusable is a config error (78) before any network call; a
  // proxy password is a secret like any other (plugins see the variables: integrations need them).
  checkProxyEnv();
  for (const secret of proxySecrets()) redactor.add(secret);
  const client = config.caFile === undefined ? undefined : controllerClient({ caPem: readCaBundle(config.caFile, "caFile"), caFile: config.caFile });
  const metrics = new RunnerMetrics();
  // With several controller URLs the edge connection picks the current one; every other call to
  // the controller (keys, secrets, artifacts, bundles) follows it.
  let edge: EdgeConnection | undefined;
  const controllerUrl = (): string => edge?.currentUrl() ?? primaryControllerUrl(config);
  // Plugins: per-plugin warm-pool policy, signed bundles from the controller, per-job storage.
  const policy = parsePoolPolicy(config.pluginPolicy, {
    maxWorkers: config.concurrency, maxJobsPerWorker: 1000, idleMs: config.workerIdleMs, prewarm: 0, isolation: "thread", memoryCeilingMb: config.workerMaxHeapMb,
  }, readConfigText);
  // Job storage: options are checked here (a config error, 78) and the S3 SDK is loaded only
  // when storageBackend is "s3"; its first sweep starts once the status port is up.
  const storage = await openStorageService(config, runnerId, logger);
  // The key ring is read before any network call, so a bad key file is a config error (78).
  const keyDir = config.runnerKeyDir ?? join(config.dataDir, "keys");
  const keys = await RunnerKeyService.load({
    dir: keyDir,
    controllerUrl,
    runnerId,
    apiKey,
    client: client ?? defaultControllerClient,
    logger,
    checkMs: config.keyRingCheckMs,
  });
  const ring = () => keys.ring;
  // Controller secrets decrypt with the key ring (jose): loaded at the first controller: reference.
  let controllerSecrets: Promise<ReturnType<typeof import("../runner/controller-secrets.ts").controllerSecretResolver>> | undefined;
  const controllerSecret = async (ref: string, job: { jobId: string; attempt: number }, signal: AbortSignal) => {
    // The controller sends a value only encrypted to a key the runner has told it.
    await keys.firstAnnouncement();
    controllerSecrets ??= import("../runner/controller-secrets.ts").then((m) => m.controllerSecretResolver({ controllerUrl, runnerId, apiKey, ring, ...(client === undefined ? {} : { client }) }));
    return (await controllerSecrets)(job).get(ref, signal);
  };
  // Secret references (vault:, gcp:, controller:, env:, file:); backend tokens join the process scope.
  const backends = new SecretBackends({
    ...backendOptionsFromConfig(config),
    registerSecret: (value) => redactor.add(value),
    controllerCredentials,
    ...(meshstack === undefined ? { controller: controllerSecret } : {}),
  });
  // The first sweep runs before any job (the executor waits for it), so a crashed run's orphans
  // past their grace are gone before new work starts. It starts once the runner is ready, not on
  // the way there (docs/performance.md, start-up), or at once when warm workers are asked for.
  // The JIT's normal thresholds come back at the same moment: start-up is over, jobs are next.
  let sweepNow: () => void = () => {};
  const storageStarted = new Promise<void>((resolve) => (sweepNow = resolve))
    .then(() => {
      endStartupJitPolicy();
      return storage.start();
    })
    .catch((error: unknown) => logger.warn(`Cannot sweep job storage at start: ${errorMessage(error)}`));
  // Jobs run on an executor built at the first job, or at start when a plugin policy asks for
  // warm workers: the pool, worker threads, bundles and decryption are no part of being ready.
  const executor = new DeferredExecutor(async () => {
    await storageStarted;
    const { buildRunnerExecutor } = await import("./runner-executor.ts");
    const built = buildRunnerExecutor({ config, controllerUrl, runnerId, apiKey, client, logger, metrics, policy, storage, backends, ring, meshSecrets, meshstack: meshstack !== undefined });
    void built.pool.prewarmAll();
    return built.executor;
  });
  let runner: Runner | undefined;
  let stopping: Promise<void> | undefined;
  let meshSecrets: ((runUuid: string) => Readonly<Record<string, string>> | undefined) | undefined;
  const onTick = (loop: string, maxSilenceMs: number) => runner?.loops.tick(loop, maxSilenceMs);
  const connection = meshstack !== undefined ? await meshstack.createMeshstackConnection(config, logger, { onTick }) : (edge = new EdgeConnection({
    controllerUrl: config.controllerUrl,
    runnerId,
    group: config.group,
    apiKey,
    version: VERSION,
    transport: config.transport,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    startJitterMs: config.startJitterMs,
    logger,
    ...(client === undefined ? {} : { client }),
    onTick,
    onProtocolError: () => metrics.protocolError(),
    onReconnect: () => metrics.reconnected(),
    onLogLinesDropped: (lines) => metrics.logLinesDropped(lines),
    // The spool's code loads only when a result waits on disk or must be saved (result-spool-front.ts).
    // Sealed with its own key file beside the runner's keys, so a new API key opens what the old one left.
    resultSpool: new ResultSpoolFront({ dir: join(config.dataDir, "results"), apiKey, keyFile: join(keyDir, "results.key"), logger, sleep }),
    insecure: config.insecure,
    onConnectFailure: () => metrics.connectFailed(),
  }));
  if ("secretsFor" in connection) meshSecrets = (uuid) => connection.secretsFor(uuid);
  runner = new Runner({
    runnerId,
    group: config.group,
    controllerUrl: primaryControllerUrl(config),
    concurrency: config.concurrency,
    prefetch: config.prefetch,
    prefetchHoldMs: config.prefetchHoldMs,
    jobTimeoutMs: config.jobTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs,
    connection,
    executor,
    logger,
    metrics,
  });
  const started = runner;
  // meshStack has its own key registration (a certificate pasted into meshStack). The edge
  // runner tells its keys beside its first session request, again once the session is up if that
  // did not get through, and /readyz waits for that first announcement to settle: left out of
  // readiness, a job with secret inputs submitted at /readyz found no key for the group
  // (docs/performance.md, start-up).
  const stopWaiting = connection.onStateChange((status) => {
    if (status.state !== "connected") return;
    stopWaiting();
    if (stopping !== undefined) return;
    if (meshstack !== undefined) return sweepNow();
    keys.connected();
    void keys.firstAnnouncement().then(sweepNow);
  });
  if (config.insecure) for (const url of config.controllerUrl) logger.warn(insecureWarning(url), { runnerId });
  // Every config and key error was thrown above: the connection starts now. Its session request
  // leaves once the result spool's directory is read (asynchronously, so after the status server
  // below is bound); sending it before that measured no faster (docs/performance.md, seventh pass).
  started.start();
  if (meshstack === undefined) keys.start();
  // meshStack's status section (and its Prometheus lines) only for a meshStack connection.
  const meshSection = "details" in connection ? (await import("../status/meshstack-section.ts")).meshstackSection(() => connection.details()) : undefined;
  const app = createStatusApp({
    snapshot: () => ({ ...started.snapshot(), insecure: config.insecure, keysPending: meshstack === undefined && !keys.firstAnnouncementSettled }),
    metrics,
    sections: [secretsSection(backends), storageSection(storage.stats), ...(meshSection === undefined ? [] : [meshSection])],
    allowedHosts: [config.statusHost, ...hostList(config.allowedHosts)],
  });
  const status = await serveHttp(app, { hostname: config.statusHost, port: config.statusPort, flag: "--status-port" }).catch(async (error: unknown) => {
    keys.stop();
    stopping = started.drain("cannot listen on the status port").then(() => storage.close());
    await stopping;
    throw error;
  });
  if (policy.prewarmList().length > 0) {
    sweepNow();
    void executor.build().catch((error: unknown) => logger.error(`Cannot start the plugin pool: ${errorMessage(error)}`));
  }
  logger.info(`Status page on ${status.url}/`, { runnerId, group: config.group, controllerUrl: config.controllerUrl.map(publicUrl).join(", ") });

  return {
    runner: started,
    status,
    stop() {
      if (stopping !== undefined) {
        void started.interruptNow();
        return stopping;
      }
      keys.stop();
      stopping = started.drain().then(() => Promise.all([status.close(), storage.close()])).then(() => undefined);
      return stopping;
    },
  };
}
