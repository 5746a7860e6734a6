// The edge protocol adapter: keeps one session open (WebSocket, or long-poll where WebSockets
// are blocked), reconnects with jittered backoff, grants credit for free slots, heartbeats
// leases, and replays every unacknowledged event and result on a new session.

import type { ConnectionState, ConnectionStatus, ControllerConnection, JobHandle } from "../connection.ts";
import { message, parseControllerMessage, type ControllerMessage, type RunnerMessage } from "../../protocol/edge-v1.ts";
import { Backoff } from "../backoff.ts";
import type { Logger } from "../../log/logger.ts";
import { realTimers, type Timers } from "../../util/sleep.ts";
import { createSession, SessionRefused } from "./session.ts";
import { JobOutbox } from "./job-outbox.ts";
import type { Transport, TransportClosed, TransportKind } from "./transport.ts";
import { defaultControllerClient, type ControllerClient } from "../../platform/controller-client.ts";
import { openWebSocketTransport } from "./ws-transport.ts";
import { openPollTransport } from "./poll-transport.ts";
import { insecureWarning } from "../../config/url.ts";

export interface EdgeConnectionOptions {
  controllerUrl: string;
  runnerId: string;
  group: string;
  apiKey: string;
  version: string;
  transport: "auto" | TransportKind;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  startJitterMs: number;
  logger: Logger;
  /** HTTP and WebSocket clients (with the configured CA); the runtime's own by default. */
  client?: ControllerClient;
  timers?: Timers;
  random?: () => number;
  /** Called on each loop tick with how long the loop may stay silent, for /healthz. */
  onTick?: (loop: string, maxSilenceMs: number) => void;
  onProtocolError?: () => void;
  onReconnect?: () => void;
  /** Started with --insecure: every (re)connect logs a warning, so it is never silent. */
  insecure?: boolean;
  /** Called for every attempt to open a session that failed. */
  onConnectFailure?: () => void;
}

/** A session that stayed up this long resets the backoff. */
const STABLE_SESSION_MS = 60_000;
/** After this many WebSocket attach failures with a working session endpoint, `auto` uses long-poll. */
const WS_FAILURES_BEFORE_POLL = 2;

export class EdgeConnection implements ControllerConnection {
  readonly kind = "edge";
  readonly #o: EdgeConnectionOptions;
  readonly #timers: Timers;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #jobs = new Map<string, JobOutbox>();
  #status: ConnectionStatus;
  #transport: Transport | undefined;
  #onJob: (handle: JobHandle) => void = () => {};
  #freeSlots = 0;
  /** Credit granted in this session and not yet used by an offer. */
  #credit = 0;
  #heartbeatMs = 10_000;
  #wsFailures = 0;
  #kind: TransportKind;
  #unknownTypesSeen = new Set<string>();
  #flushWaiters = new Set<() => void>();
  #stateListeners = new Set<(status: ConnectionStatus) => void>();
  /** Whether the current attempt got as far as a connected session. */
  #sessionOpened = false;

  constructor(options: EdgeConnectionOptions) {
    this.#o = options;
    this.#timers = options.timers ?? realTimers;
    this.#log = options.logger.child({ component: "edge" });
    this.#backoff = new Backoff({
      minMs: options.reconnectMinMs,
      maxMs: options.reconnectMaxMs,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#kind = options.transport === "poll" ? "poll" : "websocket";
    this.#status = { state: "idle", since: this.#timers.now(), reconnects: 0, failedAttempts: 0, protocolErrors: 0 };
  }

  status(): ConnectionStatus {
    return { ...this.#status };
  }

  onStateChange(listener: (status: ConnectionStatus) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  setFreeSlots(free: number): void {
    this.#freeSlots = Math.max(0, free);
    this.#grantCredit();
  }

  async run(options: { signal: AbortSignal; onJob: (handle: JobHandle) => void }): Promise<void> {
    const { signal } = options;
    this.#onJob = options.onJob;
    const random = this.#o.random ?? Math.random;
    // Jitter before the first connect, so a fleet restarted at once does not arrive at once.
    await this.#timers.sleep(Math.floor(random() * this.#o.startJitterMs), signal);

    while (!signal.aborted) {
      this.#tick(this.#o.reconnectMaxMs);
      this.#status.disconnectedSince ??= this.#timers.now();
      this.#setState("connecting");
      this.#sessionOpened = false;
      const closed = await this.#session(signal);
      if (signal.aborted) break;
      let waitMs: number;
      if (closed.unauthorized) {
        this.#setState("unauthorized", closed.reason);
        waitMs = this.#backoff.ceiling();
      } else {
        this.#setState("backoff", closed.reason);
        waitMs = this.#backoff.next(closed.retryAfterMs);
      }
      // A lost session and an attempt that never opened one are different events: say which.
      const fields = { state: this.#status.state, failures: this.#backoff.failures };
      if (this.#sessionOpened) {
        this.#status.disconnectedSince = this.#timers.now();
        this.#log.warn(`Controller connection lost: ${closed.reason}; next attempt in ${waitMs} ms`, fields);
      } else {
        this.#status.failedAttempts = (this.#status.failedAttempts ?? 0) + 1;
        this.#o.onConnectFailure?.();
        const never = this.#status.firstConnectedAt === undefined ? " (never connected yet)" : "";
        this.#log.warn(`Cannot connect to the controller${never}: ${closed.reason}; next attempt in ${waitMs} ms`, fields);
      }
      await this.#timers.sleep(waitMs, signal);
    }
    this.#transport?.close();
    this.#transport = undefined;
    this.#setState("closed");
  }

  async flush(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && [...this.#jobs.values()].some((job) => !job.done)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#flushWaiters.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#flushWaiters.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  /** Runs one session to its end; resolves with why it ended. */
  async #session(signal: AbortSignal): Promise<TransportClosed> {
    const kind = this.#kind;
    let session;
    try {
      session = await createSession({
        baseUrl: this.#o.controllerUrl,
        client: this.#o.client ?? defaultControllerClient,
        runnerId: this.#o.runnerId,
        group: this.#o.group,
        apiKey: this.#o.apiKey,
        version: this.#o.version,
        transport: kind,
        signal,
        now: this.#timers.now,
      });
    } catch (error) {
      const refused = error instanceof SessionRefused ? error : undefined;
      const closed: TransportClosed = {
        reason: (error as Error).message,
        unauthorized: refused?.status === 401 || refused?.status === 403,
      };
      if (refused?.retryAfterMs !== undefined) closed.retryAfterMs = refused.retryAfterMs;
      return closed;
    }
    this.#heartbeatMs = session.heartbeatIntervalMs;

    let transport: Transport;
    try {
      const open = kind === "websocket" ? openWebSocketTransport : openPollTransport;
      transport = await open({
        baseUrl: this.#o.controllerUrl,
        client: this.#o.client ?? defaultControllerClient,
        sessionId: session.sessionId,
        token: session.token,
        pollWaitMs: session.pollWaitMs,
        onFrame: (frame) => this.#receive(frame),
      });
    } catch (error) {
      if (kind === "websocket" && this.#o.transport === "auto" && ++this.#wsFailures >= WS_FAILURES_BEFORE_POLL) {
        this.#log.warn("WebSocket upgrades keep failing where sessions work (a proxy?): falling back to HTTP long-poll");
        this.#kind = "poll";
      }
      return { reason: (error as Error).message, unauthorized: (error as { unauthorized?: boolean }).unauthorized === true };
    }
    if (kind === "websocket") this.#wsFailures = 0;

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
    this.#log.info(`Connected to controller over ${kind}`, { sessionId: session.sessionId });
    if (this.#o.insecure === true) this.#log.warn(insecureWarning(this.#o.controllerUrl));
    this.#startSession();

    const stopHeartbeat = new AbortController();
    void this.#heartbeatLoop(AbortSignal.any([signal, stopHeartbeat.signal]));
    const aborted = new Promise<TransportClosed>((resolve) =>
      signal.addEventListener("abort", () => resolve({ reason: "runner stopping" }), { once: true }),
    );
    const closed = await Promise.race([transport.closed, aborted]);
    stopHeartbeat.abort();
    if (signal.aborted) transport.close();
    this.#transport = undefined;
    if (this.#timers.now() - openedAt >= STABLE_SESSION_MS) this.#backoff.reset();
    return closed;
  }

  /** A new session starts with zero credit: re-announce leases, replay the outbox, grant credit. */
  #startSession(): void {
    this.#credit = 0;
    const leases = [...this.#jobs.values()].filter((j) => j.holdsLease).map((j) => ({ jobId: j.job.id, attempt: j.job.attempt }));
    const replay: RunnerMessage[] = [message({ type: "heartbeat", leases })];
    for (const job of this.#jobs.values()) replay.push(...job.pending());
    this.#transport?.send(replay);
    this.#grantCredit();
  }

  /** Keeps the session's unused credit equal to the free slots: grants more, or resets it when slots shrink (drain). */
  #grantCredit(): void {
    if (this.#transport === undefined) return;
    const more = this.#freeSlots - this.#credit;
    if (more > 0) {
      this.#credit += more;
      this.#transport.send([message({ type: "credit", slots: more })]);
    } else if (more < 0) {
      this.#credit = this.#freeSlots;
      this.#transport.send([message({ type: "credit", slots: this.#freeSlots, reset: true })]);
    }
  }

  async #heartbeatLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.#tick(this.#heartbeatMs);
      await this.#timers.sleep(this.#heartbeatMs, signal);
      if (signal.aborted) break;
      const leases = [...this.#jobs.values()].filter((j) => j.holdsLease).map((j) => ({ jobId: j.job.id, attempt: j.job.attempt }));
      this.#transport?.send([message({ type: "heartbeat", leases })]);
    }
  }

  /** The connection loop is alive if it ticks at least every `periodMs` (plus slack for a slow session call). */
  #tick(periodMs: number): void {
    this.#o.onTick?.("connection", 2 * periodMs + 45_000);
  }

  #send(messages: RunnerMessage[]): void {
    this.#transport?.send(messages);
  }

  #receive(frame: unknown): void {
    const parsed = parseControllerMessage(frame);
    if (!parsed.ok) {
      if (parsed.kind === "unknown_type") {
        if (!this.#unknownTypesSeen.has(parsed.error.message)) {
          this.#unknownTypesSeen.add(parsed.error.message);
          this.#log.info(`Ignoring a message this runner does not know: ${parsed.error.message}`);
        }
        return;
      }
      this.#status.protocolErrors++;
      this.#o.onProtocolError?.();
      this.#log.warn(`Rejected a frame from the controller: ${parsed.error.message}`);
      this.#send([message({ type: "error", error: parsed.error })]);
      return;
    }
    this.#handle(parsed.message);
  }

  #handle(msg: ControllerMessage): void {
    switch (msg.type) {
      case "offer": {
        const job = new JobOutbox(msg.job, (messages) => this.#send(messages), (done) => this.#forget(done));
        this.#credit = Math.max(0, this.#credit - 1);
        if (this.#jobs.has(job.key)) {
          this.#log.warn(`Ignoring a repeated offer of job "${msg.job.id}" attempt ${msg.job.attempt}`);
          return;
        }
        this.#jobs.set(job.key, job);
        this.#onJob(job);
        return;
      }
      case "cancel": {
        const job = this.#jobs.get(`${msg.jobId}#${msg.attempt}`);
        if (job === undefined) return this.#log.info(`Cancel for a job this runner does not hold: "${msg.jobId}"`);
        this.#log.info(`Controller cancelled job "${msg.jobId}": ${msg.reason}`);
        job.abort(`${msg.reason} (via the controller)`, false);
        return;
      }
      case "heartbeat_ack": {
        for (const lease of msg.leases) {
          if (lease.ok) continue;
          const job = this.#jobs.get(`${lease.jobId}#${lease.attempt}`);
          if (job === undefined || !job.holdsLease) continue;
          this.#log.warn(`Lease of job "${lease.jobId}" attempt ${lease.attempt} is lost (${lease.reason ?? "no reason"}): stopping it`);
          job.abort(`lease_lost: ${lease.reason ?? "refused by controller"}`, true);
        }
        return;
      }
      case "ack": {
        this.#jobs.get(`${msg.jobId}#${msg.attempt}`)?.acked(msg.seq);
        return;
      }
      case "result_ack": {
        const job = this.#jobs.get(`${msg.jobId}#${msg.attempt}`);
        if (job === undefined) return;
        if (!msg.accepted && msg.reason !== "events_missing") {
          this.#log.warn(`Controller refused the result of job "${msg.jobId}" attempt ${msg.attempt}: ${msg.reason ?? "no reason"}`);
        }
        if (job.resultAnswered(msg.accepted, msg.reason) === "resend") this.#send(job.pending());
        return;
      }
      case "error": {
        this.#status.protocolErrors++;
        this.#log.warn(`Controller reported a protocol error: ${msg.error.code}: ${msg.error.message}`);
        return;
      }
    }
  }

  #forget(job: JobOutbox): void {
    if (this.#jobs.get(job.key) === job) this.#jobs.delete(job.key);
    for (const waiter of [...this.#flushWaiters]) waiter();
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
