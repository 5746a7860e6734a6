// The edge protocol adapter: keeps one session open (WebSocket, or long-poll where WebSockets
// are blocked), reconnects with jittered backoff, grants credit for free slots, heartbeats
// leases, and replays every unacknowledged event and result on a new session.

import type { ConnectionState, ConnectionStatus, ControllerConnection, JobHandle } from "../connection.ts";
import { message, parseControllerMessage, type ControllerMessage, type RunnerMessage } from "../../protocol/edge-v1.ts";
import { CONTROLLER_CALL_TIMEOUT_MS, MAX_UNACKED_LOG_CHARS } from "../../protocol/limits.ts";
import { Backoff } from "../../util/backoff.ts";
import type { Logger } from "../../log/logger.ts";
import { realTimers, type Timers } from "../../util/time.ts";
import { failureHandling, failureOf } from "../failure.ts";
import { JobOutbox, type JobOutboxOptions } from "./job-outbox.ts";
import { HeldJobs } from "./held-jobs.ts";
import { networkOpener } from "./opener.ts";
import type { Transport, TransportClosed, TransportKind } from "./transport.ts";
import { defaultControllerClient } from "../../platform/controller-client.ts";
import { insecureWarning } from "../../config/url.ts";
import { clip, WarnLimiter } from "../../log/warn-limiter.ts";
import { clampRetryAfter, sessionValues } from "./controller-values.ts";
import { type Liveness, LIVENESS_PROBE_MS, LIVENESS_TIMEOUT_MS } from "./liveness.ts";
import { startSessionPulse } from "./session-pulse.ts";
import { ControllerUrls } from "./controller-urls.ts";
import { SessionCredit } from "./session-credit.ts";
import { sessionFeatures } from "./session-features.ts";
import type { EdgeConnectionOptions } from "./edge-connection-options.ts";

export type { EdgeConnectionOptions } from "./edge-connection-options.ts";

/** Texts from the controller (error messages, cancel reasons) are cut to this in logs and job errors. */
const MAX_LOGGED_TEXT = 256;
const MAX_REASON_TEXT = 1024;
/** After this many WebSocket attach failures with a working session endpoint, `auto` uses long-poll. */
const WS_FAILURES_BEFORE_POLL = 2;

export class EdgeConnection implements ControllerConnection {
  readonly kind = "edge";
  /** Where the controller lists `release` (releases()). */
  readonly canRelease = true;
  readonly #o: EdgeConnectionOptions;
  readonly #timers: Pick<Timers, "now" | "sleep">;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #jobs: HeldJobs;
  readonly #urls: ControllerUrls;
  #status: ConnectionStatus;
  #transport: Transport | undefined;
  #onJob: (handle: JobHandle) => void = () => {};
  readonly #credit = new SessionCredit();
  #wsFailures = 0;
  #kind: TransportKind;
  /** Warnings about what the controller sends: rate-limited per session and kind, never per text. */
  #warnings: WarnLimiter;
  /** The current session carried a valid message from the controller (the backoff was reset). */
  #trafficSeen = false;
  #liveness: Liveness | undefined;
  #stateListeners = new Set<(status: ConnectionStatus) => void>();
  /** Whether the current attempt got as far as a connected session. */
  #sessionOpened = false;

  constructor(options: EdgeConnectionOptions) {
    this.#o = options;
    this.#urls = new ControllerUrls(options.controllerUrl);
    this.#jobs = new HeldJobs(options.resultSpool);
    this.#timers = options.timers ?? realTimers;
    this.#log = options.logger.child({ component: "edge" });
    this.#backoff = new Backoff({
      minMs: options.reconnectMinMs,
      maxMs: options.reconnectMaxMs,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#kind = options.transport === "poll" ? "poll" : "websocket";
    this.#warnings = new WarnLimiter({ now: () => this.#timers.now() });
    this.#status = { state: "idle", since: this.#timers.now(), reconnects: 0, failedAttempts: 0, protocolErrors: 0 };
  }

  status(): ConnectionStatus {
    return { ...this.#status, controller: this.#urls.status() };
  }

  /** The controller the runner talks to now; secrets, artifacts and bundles follow it. */
  currentUrl(): string {
    return this.#urls.current;
  }

  onStateChange(listener: (status: ConnectionStatus) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  setFreeSlots(free: number, hold = 0): void {
    this.#credit.set(free, hold);
    this.#grantCredit();
  }

  releases(): boolean | undefined {
    return this.#credit.releases;
  }

  async run(options: { signal: AbortSignal; onJob: (handle: JobHandle) => void }): Promise<void> {
    const { signal } = options;
    this.#onJob = options.onJob;
    // Results a previous process could not report go first, on the first session.
    for (const job of (await this.#jobs.restore((m) => this.#send(m), { now: () => this.#timers.now() })) ?? []) this.#jobs.add(job);
    const random = this.#o.random ?? Math.random;
    // Jitter before the first connect, so a fleet restarted at once does not arrive at once.
    // None configured: connect in this turn (a zero sleep still cost a timer turn at start).
    const jitterMs = Math.floor(random() * this.#o.startJitterMs);
    if (jitterMs > 0) await this.#timers.sleep(jitterMs, signal);

    while (!signal.aborted) {
      this.#tick(this.#o.reconnectMaxMs);
      this.#status.disconnectedSince ??= this.#timers.now();
      this.#setState("connecting");
      this.#sessionOpened = false;
      const closed = await this.#session(signal);
      if (signal.aborted) break;
      // The one table decides by code (src/controller/failure.ts).
      const unauthorized = failureHandling(closed.code) === "unauthorized";
      this.#setState(unauthorized ? "unauthorized" : "backoff", closed.reason);
      const waitMs = unauthorized ? this.#backoff.ceiling() : this.#backoff.next(clampRetryAfter(closed.retryAfterMs, this.#o.reconnectMaxMs));
      // Unreachable or dropped: the next attempt (after the same jittered wait) goes to the next
      // replica. Unauthorized stays: replicas on one database answer a key alike.
      const failedAt = this.#urls.where();
      if (!unauthorized) this.#urls.next();
      const next = failedAt === "" ? "" : ` (next: "${this.#urls.status().url}")`;
      // A lost session and an attempt that never opened one are different events: say which.
      const fields = { state: this.#status.state, failures: this.#backoff.failures };
      if (this.#sessionOpened) {
        this.#status.disconnectedSince = this.#timers.now();
        this.#log.warn(`Controller connection lost${failedAt}: ${closed.reason}; next attempt in ${waitMs} ms${next}`, fields);
      } else {
        this.#status.failedAttempts = (this.#status.failedAttempts ?? 0) + 1;
        this.#o.onConnectFailure?.();
        const never = this.#status.firstConnectedAt === undefined ? " (never connected yet)" : "";
        this.#log.warn(`Cannot connect to the controller${failedAt}${never}: ${closed.reason}; next attempt in ${waitMs} ms${next}`, fields);
      }
      await this.#timers.sleep(waitMs, signal);
    }
    await this.#jobs.save();
    this.#transport?.close();
    this.#transport = undefined;
    this.#setState("closed");
  }

  flush(signal: AbortSignal): Promise<void> {
    return this.#jobs.flush(signal);
  }

  /** Runs one session to its end; resolves with why it ended. */
  async #session(signal: AbortSignal): Promise<TransportClosed> {
    const kind = this.#kind;
    let session;
    try {
      session = await (this.#o.opener ?? networkOpener).session({
        baseUrl: this.#urls.current, client: this.#o.client ?? defaultControllerClient, runnerId: this.#o.runnerId, group: this.#o.group,
        apiKey: this.#o.apiKey, version: this.#o.version, transport: kind, signal, now: this.#timers.now,
      });
      // Known before the session's first credit: an older controller gets none for holding.
      this.#credit.releases = sessionFeatures(session.features).has("release");
    } catch (error) {
      return failureOf(error);
    }
    // Every number from the controller, clamped to its documented range before any timer sees it.
    const values = sessionValues(session);
    this.#warnings = new WarnLimiter({ now: () => this.#timers.now() });
    this.#trafficSeen = false;
    if (values.adjusted.length > 0) this.#log.warn(`The controller's session values are out of range; using ${clip(values.adjusted.join(", "), 400)}`);

    let transport: Transport;
    try {
      transport = await (this.#o.opener ?? networkOpener).open(kind, {
        baseUrl: this.#urls.current, client: this.#o.client ?? defaultControllerClient,
        sessionId: session.sessionId, token: session.token, pollWaitMs: values.pollWaitMs,
        signal, attachTimeoutMs: this.#o.attachTimeoutMs ?? CONTROLLER_CALL_TIMEOUT_MS,
        onFrame: (frame) => this.#receive(frame),
        // Refused frames and answers are not heard from the controller (liveness still ends a
        // session of nothing but these), and answered with an error frame only as often as logged.
        onMalformed: (detail) => this.#malformed(`Malformed frame: ${detail}`),
        onMalformedAnswer: (detail) => this.#malformed(`Malformed answer: ${detail}`, "malformed_answer"),
      });
    } catch (error) {
      if (kind === "websocket" && this.#o.transport === "auto" && ++this.#wsFailures >= WS_FAILURES_BEFORE_POLL) {
        this.#log.warn("WebSocket upgrades keep failing where sessions work (a proxy?): falling back to HTTP long-poll");
        this.#kind = "poll";
      }
      return failureOf(error);
    }
    if (kind === "websocket") this.#wsFailures = 0;
    // Opened just as the runner stopped: the abort listener below would never fire.
    if (signal.aborted) {
      transport.close();
      return { reason: "runner stopping", code: "connection_failed" };
    }

    const openedAt = this.#timers.now();
    this.#transport = transport;
    this.#status.transport = kind;
    this.#sessionOpened = true;
    if (this.#status.firstConnectedAt === undefined) this.#status.firstConnectedAt = openedAt;
    else {
      this.#status.reconnects++;
      this.#o.onReconnect?.();
    }
    delete this.#status.disconnectedSince;
    this.#setState("connected");
    this.#log.info(`Connected to controller${this.#urls.where()} over ${kind}`, { sessionId: session.sessionId });
    if (this.#o.insecure === true) this.#log.warn(insecureWarning(this.#urls.current));
    this.#startSession();

    let stopping = () => {};
    const aborted = new Promise<TransportClosed>((resolve) => (stopping = () => resolve({ reason: "runner stopping", code: "connection_failed" })));
    // Removed when the session ends: one listener per session on the runner's signal piled up.
    signal.addEventListener("abort", stopping, { once: true });
    // A controller that stops answering (frozen, SIGSTOP, a dead peer behind a live proxy) keeps
    // the socket open: probe with a heartbeat after a few quiet seconds, give up after a few more.
    const pulse = startSessionPulse({
      timers: this.#timers, heartbeatMs: values.heartbeatIntervalMs, tick: (ms) => this.#tick(ms),
      probeAfterMs: this.#o.livenessProbeMs ?? LIVENESS_PROBE_MS, timeoutMs: this.#o.livenessTimeoutMs ?? LIVENESS_TIMEOUT_MS,
      heartbeat: (overdue) => this.#transport?.send([message({ type: "heartbeat", leases: this.#jobs.leases() }), ...(overdue ? this.#jobs.overdue() : [])]),
    }, signal);
    this.#liveness = pulse.liveness;
    const closed = await Promise.race([transport.closed, aborted, pulse.silent]);
    signal.removeEventListener("abort", stopping);
    pulse.stop();
    this.#liveness = undefined;
    transport.close();
    this.#transport = undefined;
    return closed;
  }

  /** A new session starts with zero credit: re-announce leases, replay the outbox, grant credit. */
  #startSession(): void {
    this.#credit.restart();
    const replay: RunnerMessage[] = [message({ type: "heartbeat", leases: this.#jobs.leases() }), ...this.#jobs.replay(this.#credit.releases === true)];
    this.#transport?.send(replay);
    this.#jobs.replayed();
    this.#grantCredit();
  }

  /** Keeps the session's unused credit at the free slots (plus the room to hold, where the controller releases): grants more, or resets it when it shrinks (drain). */
  #grantCredit(): void {
    if (this.#transport === undefined) return;
    const credit = this.#credit.next();
    if (credit !== undefined) this.#transport.send([credit]);
  }

  /**
   * Logs a warning about what the controller sent, at most a few per kind and minute in a session
   * (the next one logged says how many were suppressed), with the controller's text clipped.
   */
  #warn(kind: string, text: string, level: "warn" | "info" = "warn"): boolean {
    const decision = this.#warnings.allow(kind);
    if (!decision.log) return false;
    const suffix = decision.suppressed > 0 ? ` (${decision.suppressed} more like it suppressed)` : "";
    this.#log[level](`${text}${suffix}`);
    return true;
  }

  /**
   * Counts and logs what the controller sent that was refused, and tells it with an error frame
   * only as often as it is logged: one per refused frame was up to 1,000 per long-poll answer,
   * and answering broken answers must not become a loop of its own.
   */
  #malformed(detail: string, kind: "malformed" | "malformed_answer" = "malformed"): void {
    this.#status.protocolErrors++;
    this.#o.onProtocolError?.();
    const logged = this.#warn(kind, `Rejected ${kind === "malformed" ? "a frame" : "a long-poll answer"} from the controller: ${clip(detail, MAX_LOGGED_TEXT)}`);
    if (!logged) return;
    this.#send([message({ type: "error", error: { code: "malformed_frame", message: clip(detail, MAX_LOGGED_TEXT) } })]);
  }

  /** The connection loop is alive if it ticks at least every `periodMs` (plus slack for a slow session call). */
  #tick(periodMs: number): void {
    this.#o.onTick?.("connection", 2 * periodMs + 45_000);
  }

  /** False when there is no session to send on (the messages are dropped). */
  #send(messages: RunnerMessage[]): boolean {
    if (this.#transport === undefined) return false;
    this.#transport.send(messages);
    return true;
  }

  /**
   * True for a frame the runner took. Only these are heard from the controller (liveness) and are
   * messages for the long-poll's pacing: a malformed frame or one of an unknown type answered at
   * once, again and again, kept a session alive and the receive loop busy.
   */
  #receive(frame: unknown): boolean {
    const parsed = parseControllerMessage(frame);
    if (!parsed.ok) {
      if (parsed.kind === "unknown_type") {
        this.#warn("unknown_type", `Ignoring a message this runner does not know: ${clip(parsed.error.message, MAX_LOGGED_TEXT)}`, "info");
        return false;
      }
      this.#malformed(parsed.error.message);
      return false;
    }
    this.#liveness?.heard();
    // The session carried traffic: the controller is back for real, so the next loss starts
    // the backoff from its floor again (its jitter still spreads a fleet).
    if (!this.#trafficSeen) {
      this.#trafficSeen = true;
      this.#backoff.reset();
    }
    // A bug in handling one message is logged, never thrown into the socket's event handler
    // (where it would stop the runner).
    try {
      this.#handle(parsed.message);
    } catch (error) {
      this.#log.error(`Edge connection bug handling a "${parsed.message.type}" message: ${clip(String((error as Error)?.message ?? "unknown"), MAX_LOGGED_TEXT)}`);
    }
    return true;
  }

  #handle(msg: ControllerMessage): void {
    switch (msg.type) {
      case "offer": {
        const job = new JobOutbox(msg.job, (messages) => this.#send(messages), (done) => this.#jobs.forget(done), this.#outboxOptions(msg.job));
        if (this.#jobs.has(job)) {
          // A repeated frame, not a second lease: counting it would leave the runner's idea of its
          // unused credit below the controller's, and its next grant would top it up past its slots.
          this.#warn("repeated_offer", `Ignoring a repeated offer of job "${clip(msg.job.id, 128)}" attempt ${msg.job.attempt}`);
          return;
        }
        this.#credit.offered();
        this.#jobs.add(job);
        this.#onJob(job);
        return;
      }
      case "cancel": {
        const job = this.#jobs.get(msg.jobId, msg.attempt);
        if (job === undefined) return void this.#warn("unknown_cancel", `Cancel for a job this runner does not hold: "${clip(msg.jobId, 128)}"`, "info");
        this.#log.info(`Controller cancelled job "${msg.jobId}": ${clip(msg.reason, MAX_LOGGED_TEXT)}`);
        job.abort(`${clip(msg.reason, MAX_REASON_TEXT)} (via the controller)`, false);
        return;
      }
      case "heartbeat_ack": {
        // Only leases this runner holds are looked at, each once, however long the list.
        for (const lease of msg.leases) {
          const job = this.#jobs.get(lease.jobId, lease.attempt);
          if (job === undefined) continue;
          // A given-back job's lease, answered after its release: `ok: false` confirms the release.
          if (job.releasing) {
            job.releaseAnswered(lease.ok);
            continue;
          }
          if (lease.ok || !job.holdsLease) continue;
          const reason = clip(typeof lease.reason === "string" ? lease.reason : "refused by controller", 128);
          this.#log.warn(`Lease of job "${lease.jobId}" attempt ${lease.attempt} is lost (${reason}): stopping it`);
          job.abort(`lease_lost: ${reason}`, true);
        }
        return;
      }
      case "ack": {
        this.#jobs.get(msg.jobId, msg.attempt)?.acked(msg.seq);
        return;
      }
      case "result_ack": {
        const job = this.#jobs.get(msg.jobId, msg.attempt);
        if (job === undefined) return;
        if (!msg.accepted && msg.reason !== "events_missing") {
          this.#warn("result_refused", `Controller refused the result of job "${msg.jobId}" attempt ${msg.attempt}: ${clip(String(msg.reason ?? "no reason"), 128)}`);
        }
        const expected = Number.isSafeInteger(msg.expectedSeq) ? msg.expectedSeq : undefined;
        const next = job.resultAnswered(msg.accepted, msg.reason, expected);
        if (next === "resend") this.#send(job.pending());
        if (next === "wait") this.#warn("events_gone", `Controller asks for events of job "${clip(msg.jobId, 128)}" from seq ${String(expected)} that it acknowledged already: the result goes again with a later heartbeat`);
        return;
      }
      case "error": {
        this.#status.protocolErrors++;
        this.#warn("controller_error", `Controller reported a protocol error: ${clip(msg.error.code, 64)}: ${clip(msg.error.message, MAX_LOGGED_TEXT)}`);
        return;
      }
    }
  }

  #outboxOptions(job: { id: string; attempt: number }): JobOutboxOptions {
    return {
      now: () => this.#timers.now(),
      onDropped: (lines) => {
        this.#o.onLogLinesDropped?.(lines);
        this.#warn("log_lines_dropped", `Dropping log lines of job "${clip(job.id, 128)}" attempt ${job.attempt}: more than ${MAX_UNACKED_LOG_CHARS} characters of them wait for the controller; the job's log says how many`);
      },
      onResult: (outbox) => this.#o.resultSpool?.resultPending(outbox, this.#transport !== undefined),
    };
  }

  #setState(state: ConnectionState, reason?: string): void {
    if (this.#status.state === state) return;
    this.#status.state = state;
    this.#status.since = this.#timers.now();
    if (reason !== undefined) this.#status.lastError = reason;
    else if (state === "connected") delete this.#status.lastError;
    for (const listener of this.#stateListeners) listener(this.status());
  }
}
