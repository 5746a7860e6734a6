// The reference controller as one object to embed: `edge-runner controller`, `edge-runner dev`
// and the tests start it with `ReferenceController.start()` and stop it with `close()`.

import * as fs from "node:fs";
import * as path from "node:path";
import { Hono } from "hono";
import { Logger } from "../log/logger.ts";
import { adminPublishesRunnersRead, bundleRoutes } from "./bundle-routes.ts";
import { serveHttp, upgradeWebSocket, type HttpServer } from "../platform/http-server.ts";
import { hostGuard } from "../platform/host-guard.ts";
import { isLoopbackHost } from "../config/url.ts";
import { createAdminApp } from "./admin-app.ts";
import { realTimers } from "../util/time.ts";
import { ControllerLock } from "./controller-lock.ts";
import { ControllerCore, type SubmitJobInput } from "./controller-core.ts";
import { createEdgeApp } from "./edge-app.ts";
import { createEdgeSecretsApp } from "./edge-secrets.ts";
import { CALLBACK_PATH_PREFIX, CallbackTokens } from "./callback-tokens.ts";
import { createCallbackApp } from "./job-callbacks.ts";
import { secretsCipher, type ControllerSecrets } from "./secret-store.ts";
import { fileSharedStores, type SharedStores } from "./shared-stores.ts";
import { sealSensitiveOutputs } from "../secrets/sensitive-outputs.ts";
import { EdgeSessions, POLL_GRACE_MS } from "./edge-sessions.ts";
import { SessionDirectory } from "./session-directory.ts";
import { sessionForwarder } from "./session-forward.ts";
import { SessionRelays } from "./session-relay.ts";
import { LeaseSweeper } from "./lease-sweeper.ts";
import { PauseDetector } from "./pause-detector.ts";
import { cancelDurably } from "./operator-change.ts";
import { jobJson, type JobJson } from "./records.ts";
import { RunnerMessages } from "./runner-messages.ts";
import { RunnerRegistry, type RegisterRunnerInput, type RunnerInfo } from "./runner-registry.ts";
import { SessionRegistry } from "./session-registry.ts";
import { embeddedBackend } from "./embedded-backend.ts";
import type { StoreBackend } from "./store-seam.ts";
import { errnoOf, isStoreWriteError, roomNeededAfter, SpaceProbe, storeRefusal } from "./store-failure.ts";
import { EdgeError, errorMessage } from "../errors.ts";
import { createEdgeArtifactsApp } from "./artifact-routes.ts";
import type { ControllerArtifacts } from "./artifact-store.ts";
import { loadOrCreateAdminToken, sha256Hex } from "./tokens.ts";
import { artifactMaxBytesOf, type ReferenceControllerOptions } from "./controller-options.ts";

export type { ReferenceControllerOptions } from "./controller-options.ts";

export class ReferenceController {
  readonly core: ControllerCore;
  readonly runners: RunnerRegistry;
  readonly sessions: EdgeSessions;
  readonly messages: RunnerMessages;
  /** The whole HTTP surface; tests may drive it with `app.request()` without a port. */
  readonly app: Hono;
  readonly adminToken: string;
  /** Named secrets jobs may resolve by reference (values never leave except to a lease holder). */
  readonly secrets: ControllerSecrets;
  /** Artifacts jobs kept (ctx.artifacts.put), dropped with their job. */
  readonly artifacts: ControllerArtifacts;
  readonly dataDir: string;
  /** The job-scoped tokens pipelines and approval steps call back with. */
  readonly callbackTokens: CallbackTokens;
  readonly #sweeper: LeaseSweeper;
  readonly #pauses: PauseDetector;
  readonly #lock: ControllerLock;
  #server: HttpServer | undefined;
  #state: "starting" | "ready" | "stopping" | "failed" = "starting";
  #failureReason: string | undefined;
  #probe: SpaceProbe | undefined;
  readonly #backend: StoreBackend;
  #stopRecovery: (() => void) | undefined;
  readonly #directory: SessionDirectory | undefined;
  /** PostgreSQL: WebSocket attaches relayed to the replica holding their session. */
  readonly #relays: SessionRelays | undefined;

  private constructor(options: ReferenceControllerOptions, opened?: StoreBackend, openedShared?: SharedStores) {
    const logger = (options.logger ?? new Logger()).child({ component: "controller" });
    const clock = options.clock ?? realTimers;
    const timer = options.timer ?? realTimers;
    const dir = path.join(options.dataDir, "controller");
    this.dataDir = dir;
    // The lock first: nothing of the data directory is read or repaired while another process holds it.
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.#lock = ControllerLock.acquire(path.join(dir, "controller.lock"));
    } catch (error) {
      void Promise.resolve(opened?.stop?.()).then(() => opened?.store.close());
      throw error;
    }
    let backend: StoreBackend;
    try {
      backend = opened ?? embeddedBackend(options, dir, logger, clock);
    } catch (error) {
      this.#lock.release();
      throw error;
    }
    const { store, commits } = backend;
    this.#backend = backend;
    if (options.adminToken !== undefined) this.adminToken = options.adminToken;
    else {
      const file = options.adminTokenFile ?? path.join(dir, "admin-token");
      const { token, created } = loadOrCreateAdminToken(file);
      if (created) logger.info("Created the admin token (mode 0600)", { file });
      this.adminToken = token;
    }
    // Secrets, bundles and artifacts: in the database when the state is (every replica sees them), else files.
    const shared = openedShared ?? fileSharedStores(dir, secretsCipher(dir, options.secretsKeyFile), artifactMaxBytesOf(options));
    this.artifacts = shared.artifacts;
    this.core = new ControllerCore({
      store,
      artifacts: this.artifacts,
      logs: backend.logs,
      sessions: new SessionRegistry(),
      clock,
      logger,
      leaseTtlMs: options.leaseTtlMs ?? 30_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 10_000,
      pollWaitMs: options.pollWaitMs ?? 25_000,
      maxAttempts: options.maxAttempts ?? 3,
      jobRetentionMs: options.jobRetentionMs ?? 7 * 24 * 3_600_000,
      leaseGraceMs: options.leaseGraceMs ?? (options.leaseTtlMs ?? 30_000) + 60_000,
    });
    // Fail closed: nothing unwritten was acknowledged; runners reconnect and resend to the next
    // controller process, which replays what is on disk.
    // Then it keeps serving reads and health (`failed`, with the reason), refuses changes (507 or
    // 503), and probes the disk: once writing works again, `onStoreWritable` (the command exits
    // for a clean restart). Never a crash, never an acknowledgement of what is not on disk.
    commits.onFailure((error) => {
      if (this.#state === "stopping") return;
      this.#state = "failed";
      this.#failureReason = storeRefusal("change anything", error).message;
      for (const session of [...this.core.sessions.all()]) this.sessions.end(session, "controller store failed", 1011);
      this.core.wakeAll();
      if (backend.startRecovery !== undefined) {
        // The database came back: the view was reloaded from it, so the core rebuilds its queues
        // and leases from what committed; runners reconnect and replay their outboxes.
        this.#stopRecovery = backend.startRecovery(() => {
          if (this.#state === "stopping") return;
          this.core.reindex("the controller reconnected to its database");
          this.#state = "ready";
          this.#failureReason = undefined;
          for (const group of this.core.groups()) this.core.dispatch(group);
        });
        return;
      }
      this.#probe = new SpaceProbe({
        dir,
        timer,
        intervalMs: options.spaceProbeMs ?? 5_000,
        // The room the restarted store needs for what failed: no "yes" followed by the same failure.
        bytes: roomNeededAfter(error),
        onWritable: () => {
          logger.warn("The controller's store can be written again; a restart replays it from disk");
          options.onStoreWritable?.();
        },
      });
      this.#probe.start();
    });
    // Other replicas' changes (PostgreSQL): the core's queues, leases and waiters follow them.
    this.runners = new RunnerRegistry(this.core);
    backend.watchRemote?.({
      jobs: (jobs, deleted) => {
        if (this.#state === "ready") this.core.applyRemote(jobs, deleted);
      },
      runnersGone: (ids) => {
        for (const id of ids) this.runners.forget(id);
      },
    });
    // PostgreSQL: sessions are listed in the database, so any replica can forward to their owner.
    const directory = SessionDirectory.over(backend.sessionRows, { clock, timer, logger, expiryMs: this.core.settings.pollWaitMs + POLL_GRACE_MS, advertiseUrl: () => options.advertiseUrl ?? this.#server?.url ?? "" });
    this.#directory = directory;
    const relays = directory === undefined ? undefined : new SessionRelays({ directory, logger, timer });
    this.#relays = relays;
    if (directory !== undefined) this.runners.remoteSessions = () => directory.remoteRunners();
    this.sessions = new EdgeSessions({ core: this.core, runners: this.runners, timer, ...(directory === undefined ? {} : { directory }) });
    const secrets = shared.secrets;
    this.secrets = secrets;
    // Sensitive outputs are sealed with the secret store's key before anything stores them.
    this.messages = new RunnerMessages(this.core, this.runners, (jobId, output) => sealSensitiveOutputs(output, secrets.cipher, jobId));
    this.app = new Hono();
    // Bound to loopback, the admin API is reachable from the operator's browser: refuse rebound names.
    const bind = options.hostname ?? "127.0.0.1";
    if (isLoopbackHost(bind.includes(":") && !bind.startsWith("[") ? `[${bind}]` : bind)) {
      this.app.use("*", hostGuard({ hosts: [bind, ...(options.allowedHosts ?? [])] }));
    }
    this.app.route("/", createEdgeApp({
      core: this.core,
      sessions: this.sessions,
      messages: this.messages,
      runners: this.runners,
      upgradeWebSocket,
      accepting: () => this.#state === "ready",
      ...(directory === undefined || relays === undefined ? {} : { forwarder: sessionForwarder({ directory, pollWaitMs: this.core.settings.pollWaitMs, logger }), relays }),
    }));
    // Plugin bundles (before the admin app, whose middleware wants the admin token on all of
    // /api/v1): the admin token may publish and read; a registered runner's API key may read.
    const adminTokenHash = sha256Hex(this.adminToken);
    const authorize = adminPublishesRunnersRead(adminTokenHash, (runnerId, token) => this.runners.authenticate(runnerId, token) !== undefined);
    this.app.route("/", bundleRoutes({ store: shared.bundles, logger, authorize }));
    const artifacts = this.artifacts;
    this.app.route("/", createEdgeArtifactsApp({ core: this.core, runners: this.runners, artifacts }));
    // On PostgreSQL every replica must check the tokens of every other: the key is derived from
    // the secrets key they all share, not kept in one replica's data directory.
    const callbackTokens = store.kind === "postgres" ? new CallbackTokens(secretsCipher(dir, options.secretsKeyFile).deriveKey("callback tokens v1")) : CallbackTokens.inDir(dir);
    this.callbackTokens = callbackTokens;
    this.app.route("/", createEdgeSecretsApp({ core: this.core, runners: this.runners, secrets, callbacks: { tokens: callbackTokens, baseUrl: () => this.url } }));
    this.app.route(CALLBACK_PATH_PREFIX, createCallbackApp({ core: this.core, tokens: callbackTokens }));
    this.app.route("/api/v1", createAdminApp({
      core: this.core,
      runners: this.runners,
      secrets,
      artifacts,
      adminTokenHash,
      state: () => this.#state,
      reason: () => this.#failureReason,
      startedAt: clock.now(),
      ...(directory === undefined ? {} : { allSessions: () => directory.liveCount() }),
    }));
    const sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.#pauses = new PauseDetector({
      thresholdMs: Math.max(5_000, 3 * sweepIntervalMs),
      ...(options.monotonic === undefined ? {} : { monotonic: options.monotonic }),
      onPause: (gapMs) => {
        logger.warn(`The controller was paused for ${Math.round(gapMs / 1000)} s`, { gapMs });
        this.core.graceLeases(`the controller was paused for ${Math.round(gapMs / 1000)} s`);
        // Long-poll sessions went quiet because the controller did: they are not dead.
        for (const session of this.core.sessions.all()) session.lastPollAt = clock.now();
      },
    });
    this.core.awake = () => this.#pauses.check();
    this.#sweeper = new LeaseSweeper({
      clock,
      timer,
      intervalMs: sweepIntervalMs,
      nextExpiry: () => this.core.nextExpiry(),
      onTick: () => {
        this.#pauses.beat();
        this.sweep();
      },
      onError: (error) => {
        const failures = (this.core.background.sweep.failures ?? 0) + 1;
        this.core.background.sweep = { failures, lastError: String(error).slice(0, 300), lastFailedAt: clock.now() };
        logger.error("Lease sweep failed; retrying on the next tick", { error: String(error).slice(0, 300), failures });
      },
    });
  }

  /** Opens the embedded store (replaying it) without binding a port: for in-memory tests. */
  static create(options: ReferenceControllerOptions): ReferenceController {
    if (options.storeUrl !== undefined) throw new Error("A controller on PostgreSQL opens asynchronously: use ReferenceController.open()");
    return ReferenceController.#ready(options);
  }

  /** Opens either store without binding a port; PostgreSQL's code is imported only here. */
  static async open(options: ReferenceControllerOptions): Promise<ReferenceController> {
    if (options.storeUrl === undefined) return ReferenceController.create(options);
    const { openPostgresBackend } = await import("./postgres/open.ts");
    const backend = await openPostgresBackend({
      url: options.storeUrl,
      logger: (options.logger ?? new Logger()).child({ component: "controller" }),
      ...(options.storePassword === undefined ? {} : { password: options.storePassword }),
      ...(options.commit === undefined ? {} : { commit: options.commit }),
      ...(options.jobLogMaxBytes === undefined ? {} : { jobMaxBytes: options.jobLogMaxBytes }),
      ...(options.eventJournalMaxBytes === undefined ? {} : { maxBytes: options.eventJournalMaxBytes }),
      ...(options.storePingMs === undefined ? {} : { pingMs: options.storePingMs }),
    });
    let shared: SharedStores;
    try {
      // The key file is read (or created) before the lock, which the constructor takes: a second
      // process on this data directory is refused there, after having read the same key.
      const dir = path.join(options.dataDir, "controller");
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { openPostgresSharedStores } = await import("./postgres/shared-stores.ts");
      shared = await openPostgresSharedStores({ sql: backend.sql as NonNullable<StoreBackend["sql"]>, cipher: secretsCipher(dir, options.secretsKeyFile), artifactMaxBytes: artifactMaxBytesOf(options), logger: options.logger ?? new Logger() });
    } catch (error) {
      backend.stop?.();
      await backend.store.close();
      throw error;
    }
    return ReferenceController.#ready(options, backend, shared);
  }

  static #ready(options: ReferenceControllerOptions, backend?: StoreBackend, shared?: SharedStores): ReferenceController {
    let controller: ReferenceController;
    try {
      controller = new ReferenceController(options, backend, shared);
    } catch (error) {
      if (error instanceof EdgeError || !isStoreWriteError(error)) throw error;
      const dir = path.join(options.dataDir, "controller");
      throw new EdgeError("store_unavailable", `Cannot start the controller: its data directory "${dir}" cannot be written (${errnoOf(error)}: ${errorMessage(error).slice(0, 200)})`, { cause: error });
    }
    // A store that failed at open (controller.ts onFailure) stays failed: reads, health, the probe.
    if (controller.#state === "starting") controller.#state = "ready";
    if (options.autoSweep !== false) {
      // The loop beats from now on: a pause before its first tick is a pause too.
      controller.#pauses.arm();
      controller.#sweeper.start();
    }
    controller.#directory?.start();
    return controller;
  }

  /** Opens the store, then serves HTTP and WebSocket on `hostname:port`. */
  static async start(options: ReferenceControllerOptions): Promise<ReferenceController> {
    const controller = await ReferenceController.open(options);
    try {
      controller.#server = await serveHttp(controller.app, {
        hostname: options.hostname ?? "127.0.0.1",
        port: options.port ?? 0,
        flag: "--listen-port",
        // Artifact uploads stream to disk with their own limit; the server's cap must not be lower.
        maxBodyBytes: Math.max(40 * 1024 * 1024, (options.artifactMaxBytes ?? 100 * 1024 * 1024) + 1024 * 1024),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      });
    } catch (error) {
      await controller.close();
      throw error;
    }
    controller.core.logger.info("Reference controller listening", { url: controller.url });
    return controller;
  }

  /** `failed` with the reason while the store cannot be written. */
  get health(): { state: string; reason?: string } {
    return this.#failureReason === undefined ? { state: this.#state } : { state: this.#state, reason: this.#failureReason };
  }

  get url(): string {
    if (this.#server === undefined) throw new Error("The controller is not serving HTTP (created without start())");
    return this.#server.url;
  }

  get port(): number {
    return this.#server?.port ?? 0;
  }

  /** Durable when it resolves (the key works after a crash): it awaits the batch, see GroupCommit.flushSync(). */
  async registerRunner(input: RegisterRunnerInput): Promise<{ id: string; group: string; apiKey: string }> {
    const { rotated: _r, ...created } = await this.runners.registerLanded(input);
    return created;
  }

  listRunners(): RunnerInfo[] {
    return this.runners.list();
  }

  /**
   * Queues a job and returns at once; it is written with this turn's batch, before any runner is
   * offered it. A caller that must know it is on disk awaits `durable()` (the admin API does).
   */
  submitJob(input: SubmitJobInput): JobJson {
    return jobJson(this.core.submitJob(input));
  }

  /** Resolves once every change made so far is on disk; rejects if the store failed. */
  durable(): Promise<void> {
    return this.core.store.durable();
  }

  getJob(id: string): JobJson | undefined {
    const job = this.core.getJob(id);
    return job === undefined ? undefined : jobJson(job);
  }

  /** Durable when it resolves (see registerRunner()), with the job as stored (operator-change.ts: a write lost to another replica is made again). */
  async cancelJob(id: string): Promise<JobJson> {
    return jobJson(await cancelDurably(this.core, id));
  }

  async waitForJob(id: string, timeoutMs: number): Promise<JobJson> {
    return jobJson(await this.core.waitForJob(id, timeoutMs));
  }

  /** One pass of the lease, session and retention sweep (the loop calls it; tests call it directly). */
  sweep(): void {
    // No change can be written: expiring leases would only fail (and runners cannot report).
    if (this.core.store.commits.failure !== undefined) return;
    this.core.expireLeases();
    this.sessions.sweep();
    this.core.pruneFinished();
  }

  /** Stops serving, ends every session (leases stay), answers waiters, closes the store. */
  async close(): Promise<void> {
    if (this.#state === "stopping") return;
    this.#state = "stopping";
    this.#sweeper.stop();
    this.#pauses.stop();
    this.#probe?.stop();
    this.#stopRecovery?.();
    this.#directory?.stop();
    await this.#backend.stop?.();
    for (const session of [...this.core.sessions.all()]) this.sessions.end(session, "controller stopping", 1001);
    this.#relays?.closeAll(1001, "controller stopping");
    this.core.wakeAll();
    await this.#server?.close();
    await this.core.store.close();
    this.#lock.release();
    this.core.logger.info("Reference controller stopped");
  }
}
