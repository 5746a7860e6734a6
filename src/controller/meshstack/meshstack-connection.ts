// The meshStack adapter behind ControllerConnection: it claims building block runs only while a
// slot is free (again at once after a claim returned a run or a run ended, every pollIntervalMs
// with jitter when idle), never retries a claim blindly, decrypts and prepares each run, and
// hands it to the runner as a JobHandle whose calls become meshStack status updates through the
// durable outbox. At start it reports the runs a previous process left in its outbox.

import { failureHandling, failureOf } from "../failure.ts";
import type { KeyObject } from "node:crypto";
import type { ConnectionState, ConnectionStatus, ControllerConnection, JobHandle } from "../connection.ts";
import type { Logger } from "../../log/logger.ts";
import { errorMessage, serializeError } from "../../errors.ts";
import { redactor, type RedactionScope } from "../../log/redact.ts";
import { realTimers, type Timers } from "../../util/time.ts";
import { Backoff } from "../../util/backoff.ts";
import { isRefusal, MeshstackCallError, type MeshstackClient } from "./api-client.ts";
import { quotedReason } from "./refusal-reason.ts";
import { RunReport } from "./final-status.ts";
import { MAIN_STEP, prepareRun, type PluginChoice } from "./implementations.ts";
import type { RunOutboxStore, RunRecord } from "./outbox.ts";
import { RunChannel, type ChannelEnd } from "./run-channel.ts";
import { MeshstackRunHandle } from "./run-handle.ts";
import { parseRun, reportableRun, updateUrl, type ImplementationType, type MeshstackRun } from "./run-document.ts";
import { MeshstackActivity, type MeshstackActivitySnapshot } from "./activity.ts";

export const RESTARTED_MESSAGE = "The runner restarted during the run; its outcome is unknown. Run it again.";

export interface MeshstackConnectionOptions {
  client: MeshstackClient;
  runnerUuid: string;
  store: RunOutboxStore;
  /** The runner's key ring for meshStack: the current key first, then older and extra ones. */
  keys: () => readonly KeyObject[];
  plugins?: Partial<Record<ImplementationType, PluginChoice>>;
  logger: Logger;
  timers?: Pick<Timers, "now" | "sleep">;
  random?: () => number;
  pollIntervalMs: number;
  statusIntervalMs: number;
  logIntervalMs?: number;
  retryMinMs: number;
  retryMaxMs: number;
  onTick?: (loop: string, maxSilenceMs: number) => void;
}

export class MeshstackConnection implements ControllerConnection {
  readonly kind = "meshstack";
  readonly activity: MeshstackActivity;
  readonly #o: MeshstackConnectionOptions;
  readonly #log: Logger;
  readonly #timers: Pick<Timers, "now" | "sleep">;
  readonly #random: () => number;
  readonly #channels = new Map<string, RunChannel>();
  readonly #listeners = new Set<(status: ConnectionStatus) => void>();
  #status: ConnectionStatus;
  #free = 0;
  #wake = new AbortController();
  #recovered = new AbortController();
  #failing = false;
  /** The cause of the claims meshStack keeps refusing (logged once), and how many it refused in a row. */
  #claimRefusal: { cause: string; count: number } | undefined;
  /** Each running run's secrets by reference (ctx.secrets.get), dropped when its line ends. */
  readonly #secrets = new Map<string, Readonly<Record<string, string>>>();

  constructor(options: MeshstackConnectionOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: "meshstack" });
    this.#timers = options.timers ?? realTimers;
    this.#random = options.random ?? Math.random;
    this.#status = { state: "idle", since: this.#timers.now(), transport: "http", reconnects: 0, protocolErrors: 0 };
    this.activity = new MeshstackActivity(this.#timers.now);
  }

  /** What the status page shows about meshStack (status/meshstack-section.ts renders it). */
  details(): MeshstackActivitySnapshot & { runnerUuid: string; logins: number; lastLoginError?: { at: number; message: string } } {
    const error = this.#o.client.lastLoginError;
    return { ...this.activity.snapshot(), runnerUuid: this.#o.runnerUuid, logins: this.#o.client.logins, ...(error === undefined ? {} : { lastLoginError: { ...error } }) };
  }

  /** Origins of run links called at the configured base URL instead, each logged once (run-links.ts). */
  readonly #retargetedOrigins = new Set<string>();

  /** The secrets `ctx.secrets.get(ref)` resolves for a run (the plugin pool's resolver reads them). */
  secretsFor(runUuid: string): Readonly<Record<string, string>> | undefined {
    return this.#secrets.get(runUuid);
  }

  status(): ConnectionStatus {
    return { ...this.#status };
  }

  onStateChange(listener: (status: ConnectionStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  setFreeSlots(free: number): void {
    const more = free > this.#free;
    this.#free = free;
    if (more) this.#wakeUp();
  }

  async flush(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const busy = [...this.#channels.values()].filter((c) => !c.isEnded && c.pendingCount > 0);
      if (busy.length === 0) return;
      await Promise.race([Promise.all(busy.map((c) => c.idle(signal))), this.#timers.sleep(1000, signal)]);
    }
  }

  async run(options: { signal: AbortSignal; onJob: (handle: JobHandle) => void }): Promise<void> {
    const { signal } = options;
    this.#setState("connecting");
    await this.#recover();
    const backoff = new Backoff({ minMs: this.#o.retryMinMs, maxMs: this.#o.retryMaxMs, random: this.#random });
    while (!signal.aborted) {
      this.#o.onTick?.("meshstack-claim", Math.max(60_000, this.#o.pollIntervalMs * 3));
      await this.#resealAfterRotation();
      let wait = this.#jittered(this.#o.pollIntervalMs);
      // A wake-up (a slot freed) from before this claim is answered by the claim itself.
      this.#wake = new AbortController();
      let failed = false;
      if (this.#free > 0) {
        try {
          const answer = await this.#o.client.claim(this.#o.runnerUuid);
          this.activity.claimPolled(answer.kind === "run" ? "claimed" : answer.status === 409 ? "conflict" : "none");
          this.#answered();
          backoff.reset();
          if (this.#claimRefusal !== undefined) {
            this.#log.info(`meshStack takes this runner's claims again, after ${this.#claimRefusal.count} refused`);
            this.#claimRefusal = undefined;
          }
          // A claim that returned a run is followed by another at once; one that returned a run
          // already here is not (meshStack may hand it out again at every claim).
          if (answer.kind === "run" && (await this.#take(answer.run, options.onJob)) === "taken") continue;
        } catch (error) {
          // meshStack's own words (its answer's message), masked: it may quote what it was sent.
          const cause = errorMessage(error);
          const reason = error instanceof MeshstackCallError && error.detail !== undefined ? `${cause}: ${quotedReason(error.detail, redactor)}` : cause;
          this.activity.claimFailed(reason);
          // The one table of controller failures decides about 401/403 (src/controller/failure.ts).
          const unauthorized = failureHandling(failureOf(error).code) === "unauthorized";
          if (unauthorized || (error instanceof MeshstackCallError && isRefusal(error.status))) {
            // Bad credentials, or a claim meshStack will not take: another in a moment gets the
            // same answer, but a fix (in meshStack or the runner's key file) must be picked up.
            this.#setState(unauthorized ? "unauthorized" : "backoff", reason);
            wait = Math.max(wait, backoff.ceiling());
            this.#claimRefused(cause, reason, wait);
          } else {
            this.#setState("backoff", reason);
            // Never retried at once: after an unknown outcome a retry could claim a second run.
            wait = Math.max(wait, backoff.next(failureOf(error).retryAfterMs));
            this.#log.warn(`Cannot claim a run from meshStack: ${reason}; next try in ${wait} ms`);
          }
          this.#failing = true;
          failed = true;
        }
      }
      // After a failed claim (its outcome may be unknown) a freed slot does not cut the wait short.
      await this.#timers.sleep(wait, failed ? signal : AbortSignal.any([signal, this.#wake.signal]));
    }
    for (const channel of this.#channels.values()) channel.stop();
    this.#setState("closed");
  }

  /**
   * A claim meshStack refused (401/403, or another 4xx but 408, 425, 429): an error line naming
   * the cause when it is new, then a debug line per claim until the cause changes or a claim is
   * taken; not an error line per poll for a runner that stays refused for hours.
   */
  #claimRefused(cause: string, reason: string, wait: number): void {
    if (this.#claimRefusal?.cause === cause) {
      this.#claimRefusal.count++;
      this.#log.debug(`meshStack refused claim ${this.#claimRefusal.count} in a row: ${reason}; next try in ${wait} ms`);
      return;
    }
    this.#claimRefusal = { cause, count: 1 };
    this.#log.error(`meshStack refuses this runner's claims: ${reason}. No run is claimed until it takes them; the next try is in ${wait} ms, and this is logged again only when its status or error changes (meshStack's message alone: at debug)`);
  }

  /** After `keys rotate --outbox`: what the outbox holds moves to the new key, so the old one can be retired. */
  async #resealAfterRotation(): Promise<void> {
    try {
      const resealed = await this.#o.store.resealIfRotated();
      if (resealed > 0) this.#log.info(`Resealed ${resealed} meshStack outbox record(s) under the current outbox key`);
    } catch (error) {
      this.#log.error(`Cannot reseal the meshStack outbox under the current outbox key: ${errorMessage(error)}; retried at the next poll`);
    }
  }

  #wakeUp(): void {
    this.#wake.abort();
  }

  /** meshStack answered: the connection is up, and outbox retries waiting on an outage go now. */
  #answered(): void {
    this.#setState("connected");
    if (this.#failing) {
      this.#failing = false;
      this.#recovered.abort();
      this.#recovered = new AbortController();
    }
  }

  #jittered(ms: number): number {
    return Math.max(1, Math.round(ms * (0.8 + 0.4 * this.#random())));
  }

  #setState(state: ConnectionState, lastError?: string): void {
    if (state === this.#status.state && lastError === this.#status.lastError) return;
    const next: ConnectionStatus = { ...this.#status, state, since: this.#timers.now() };
    if (lastError !== undefined) next.lastError = lastError;
    else delete next.lastError;
    if (state === "connected" && this.#status.state !== "connected" && this.#status.state !== "connecting") next.reconnects++;
    this.#status = next;
    for (const listener of this.#listeners) listener(this.status());
  }

  /** The run's line to meshStack; `scope` is the run's redaction scope, disposed when the line ends. */
  #channel(record: RunRecord, scope: RedactionScope): RunChannel {
    const channel = new RunChannel(record, {
      client: this.#o.client,
      store: this.#o.store,
      logger: this.#o.logger,
      redaction: scope,
      timers: this.#timers,
      retryMinMs: this.#o.retryMinMs,
      retryMaxMs: this.#o.retryMaxMs,
      recovered: () => this.#recovered.signal,
      onCall: (ok) => {
        if (ok) this.#answered();
        else this.#failing = true;
        this.activity.statusCall(ok);
      },
    });
    this.#channels.set(record.uuid, channel);
    void channel.ended.then((end) => {
      this.#channels.delete(record.uuid);
      this.activity.outboxEnded(record.uuid, end);
      // Only now: a reason meshStack gives for refusing the run's last update is masked with it.
      scope.dispose();
    });
    return channel;
  }

  /** Runs a previous process claimed: report them instead of leaving them IN_PROGRESS forever. */
  async #recover(): Promise<void> {
    const records = await this.#o.store.load((file, reason) => {
      // Kept, not deleted: with the key file it was sealed with (or a fixed file), a restart resumes the run.
      this.#log.error(`Cannot resume the meshStack run of outbox file "${file}": ${reason}; its run is not reported until the file can be read (kept as it is: restore the outbox key file it was sealed with and restart)`);
      this.activity.outboxUnreadable(file, reason);
    });
    for (const record of records) {
      // What the record holds of the run's secrets: its token, and the sensitive outputs of its
      // updates (the channel adds those when it masks). Its decrypted inputs are gone with the
      // process, so the channel never learns that its scope is complete.
      const scope = redactor.child(`meshstack run ${record.uuid}`);
      scope.add(record.runToken);
      const channel = this.#channel(record, scope);
      this.activity.recovered(record);
      if (record.phase === "running") {
        this.#log.warn(`Run "${record.uuid}" was running when the runner stopped; reporting it FAILED`);
        const mainStep = MAIN_STEP[record.implementationType as ImplementationType]?.id ?? "run";
        await channel.enqueue("patch", {
          status: "FAILED",
          summary: RESTARTED_MESSAGE,
          steps: [{ id: mainStep, status: "FAILED", userMessage: RESTARTED_MESSAGE }],
        }, { final: true, phase: "ending", mainStep });
        this.activity.finished(record.uuid, "FAILED", RESTARTED_MESSAGE);
      } else {
        this.#log.info(`Sending the updates of run "${record.uuid}" that were not acknowledged before the restart`);
        await channel.resume();
      }
    }
  }

  async #failUnrunnable(run: Pick<MeshstackRun, "uuid" | "runToken" | "links">, message: string): Promise<void> {
    // Its inputs were never decrypted: the scope is not complete, meshStack's reasons are left out.
    const scope = redactor.child(`meshstack run ${run.uuid}`);
    scope.add(run.runToken);
    const channel = this.#channel({
      uuid: run.uuid, runToken: run.runToken, registerUrl: run.links.registerSource, updateUrl: updateUrl(run, this.#o.runnerUuid),
      claimedAt: this.#timers.now(), phase: "ending", workspace: "", implementationType: "", nextSeq: 1, pending: [],
    }, scope);
    const step = { id: "run", displayName: "edge-runner" };
    this.#log.error(`${message}: failing run "${run.uuid}"`);
    this.activity.finished(run.uuid, "FAILED", message);
    await channel.enqueue("register", { source: { id: this.#o.runnerUuid }, steps: [{ ...step, status: "PENDING" }] });
    await channel.enqueue("patch", { status: "FAILED", summary: message, steps: [{ ...step, status: "FAILED", userMessage: message }] }, { final: true, phase: "ending", mainStep: step.id });
  }

  /**
   * A run meshStack handed out that this runner already works on (a claim race on meshStack's
   * side, a claim it retried, a run resumed from the outbox): starting it again would run its
   * work twice at once (two applies on one state) under one outbox file, and report it twice.
   * The run's channel carries on; this claim is dropped with a warning.
   */
  #alreadyHere(uuid: string): boolean {
    if (!this.#channels.has(uuid)) return false;
    this.#log.warn(`meshStack handed out run "${uuid}" again, which this runner is already working on: not started a second time (the run here carries on and reports it)`);
    return true;
  }

  /** meshStack's run links name another origin than controllerUrl: said once per origin, it is how that meshStack is set up. */
  #retargeted(origin: string): void {
    if (this.#retargetedOrigins.has(origin) || this.#retargetedOrigins.size >= 16) return;
    this.#retargetedOrigins.add(origin);
    this.#log.warn(`meshStack's run links point at ${origin}, not at the configured controllerUrl (${new URL(this.#o.client.baseUrl).origin}): the runner calls them at controllerUrl with their path, as meshcloud's Go runners do, and never sends a run token to ${origin} itself (an async pipeline gets the links as meshStack wrote them)`);
  }

  /** "taken": a run started or failed here; "again": a run already here, left alone. */
  async #take(raw: unknown, onJob: (handle: JobHandle) => void): Promise<"taken" | "again"> {
    let run: MeshstackRun;
    try {
      run = parseRun(raw, this.#o.client.baseUrl);
    } catch (error) {
      this.#status.protocolErrors++;
      const reportable = reportableRun(raw, this.#o.client.baseUrl);
      if (reportable === undefined) {
        this.#log.error(`${errorMessage(error)}; it cannot be reported back`);
        return "taken";
      }
      if (this.#alreadyHere(reportable.uuid)) return "again";
      // Claimed but not runnable here (say, an implementation type this version does not know): fail it now, never leave it hanging.
      await this.#failUnrunnable(reportable, errorMessage(error));
      return "taken";
    }
    if (this.#alreadyHere(run.uuid)) return "again";
    if (run.retargetedFrom !== undefined) this.#retargeted(run.retargetedFrom);
    // The run's secrets (its token, decrypted values) live in a redaction scope dropped when its line ends.
    const scope = redactor.child(`meshstack run ${run.uuid}`);
    scope.add(run.runToken);
    const type = run.implementation.type;
    const mainStep = MAIN_STEP[type];
    const record: RunRecord = {
      uuid: run.uuid,
      runToken: run.runToken,
      registerUrl: run.links.registerSource,
      updateUrl: updateUrl(run, this.#o.runnerUuid),
      claimedAt: this.#timers.now(),
      phase: "running",
      workspace: run.workspace,
      implementationType: type,
      nextSeq: 1,
      pending: [],
    };
    const channel = this.#channel(record, scope);
    // On disk before anything else: a crash from here on still reports the run.
    await channel.enqueue("register", { source: { id: this.#o.runnerUuid }, steps: [{ ...mainStep, status: "PENDING" }] });
    this.activity.claimed(run);
    const log = this.#log.child({ runUuid: run.uuid, workspace: run.workspace, type, behavior: run.behavior });
    log.info("Claimed meshStack run");
    const fail = async (message: string) => {
      log.error(`Run failed before it started: ${message}`);
      this.activity.finished(run.uuid, "FAILED", message);
      await channel.enqueue("patch", { status: "FAILED", summary: message, steps: [{ ...mainStep, status: "FAILED", userMessage: message }] }, { final: true, phase: "ending", mainStep: mainStep.id });
    };
    let planArtifact: string | undefined;
    if (run.links.planArtifact !== undefined && run.behavior === "APPLY") {
      try {
        planArtifact = Buffer.from(await this.#o.client.planArtifact(run.links.planArtifact, run.runToken)).toString("base64");
      } catch (error) {
        await fail(`Cannot download the plan of the preceding DETECT run: ${errorMessage(error)}`);
        return "taken";
      }
    }
    let prepared;
    try {
      prepared = prepareRun(run, this.#o.keys(), this.#o.plugins ?? {}, { register: (secret) => scope.add(secret), ...(planArtifact === undefined ? {} : { planArtifact }) });
    } catch (error) {
      await fail(serializeError(error).message);
      return "taken";
    }
    // Every sensitive input and implementation secret is in the scope now.
    channel.secretsComplete();
    this.#secrets.set(run.uuid, prepared.secrets);
    void channel.ended.then(() => this.#secrets.delete(run.uuid));
    const report = new RunReport({ runUuid: run.uuid, implementationType: type, behavior: run.behavior, async: prepared.async, mainStep, inputs: run.inputs });
    const now = this.#timers.now();
    const handle = new MeshstackRunHandle({
      job: { id: run.uuid, attempt: 1, group: "meshstack", plugin: prepared.plugin, action: prepared.action, input: prepared.input, leaseExpiresAt: 0, submittedAt: now },
      channel,
      report,
      redaction: scope,
      timers: this.#timers,
      statusIntervalMs: this.#o.statusIntervalMs,
      logIntervalMs: this.#o.logIntervalMs ?? Math.min(2000, this.#o.statusIntervalMs),
      onDecided: (status, message) => this.activity.finished(run.uuid, status, message),
    });
    void channel.ended.then((end: ChannelEnd) => {
      if (end.kind === "aborted") log.warn("meshStack aborted the run: cancelling it");
    });
    onJob(handle);
    return "taken";
  }
}
