// The runner's view of a controller: one interface, one adapter per controller kind.
// The edge adapter (WebSocket/long-poll, push), and the meshStack adapter (meshstack/: HTTP polling,
// a status call per run), which claims runs while `freeSlots` > 0 and turns
// `JobHandle` calls into its own status updates.

import type { RedactionScope } from "../log/redact.ts";
import type { JobOffer, JobResult, LogLine, StepUpdate, WireError } from "../protocol/edge-v1.ts";

export type ConnectionState = "idle" | "connecting" | "connected" | "backoff" | "unauthorized" | "closed";

/** Which of the configured controller URLs is current: shown on the status page, no credentials. */
export interface ControllerUrlStatus {
  url: string;
  /** Position of `url` in the list, from 0. */
  index: number;
  count: number;
  /** How many times the runner moved to another URL. */
  failovers: number;
}

export interface ConnectionStatus {
  state: ConnectionState;
  /** Epoch ms of the last state change. */
  since: number;
  transport?: "websocket" | "poll" | "http";
  lastError?: string;
  /** Epoch ms of the first session ever opened; absent while the runner has never connected. */
  firstConnectedAt?: number;
  /** Epoch ms since which there has been no session: the first attempt, or the loss of the last session. */
  disconnectedSince?: number;
  /** New sessions after a lost one (never counts a first connection or a failed attempt). */
  reconnects: number;
  /** Attempts to open a session that failed (refused, unreachable, unauthorized). */
  failedAttempts?: number;
  /** Malformed frames received and rejected. */
  protocolErrors: number;
  /** Which of the configured controller URLs is current (edge adapter), without credentials. */
  controller?: ControllerUrlStatus;
}

/** What the runner does with one job it was given; the adapter decides how each call travels. */
export interface JobHandle {
  readonly job: JobOffer;
  /** Aborted when the controller cancels the job or its lease is lost (`reason` says which). */
  readonly signal: AbortSignal;
  /**
   * The job's redaction scope when the adapter already holds secrets of the job (meshStack: the
   * run token, decrypted inputs) and owns the scope's lifetime; otherwise the runner makes one.
   */
  readonly redaction?: RedactionScope;
  accept(): void;
  reject(error: WireError): void;
  /**
   * Gives the job back unstarted (never accepted) without using up an attempt: a job held by
   * local prefetch (src/runner/local-queue.ts). Only adapters with `canRelease` have it.
   */
  release?(): void;
  log(lines: LogLine[]): void;
  step(step: StepUpdate): void;
  /** Queues the result; resolves once the controller acknowledged it or refused it for good. */
  complete(result: JobResult): Promise<{ accepted: boolean; reason?: string }>;
}

export interface ControllerConnection {
  readonly kind: string;
  /**
   * The adapter can give offered jobs back unstarted (`JobHandle.release`), so the runner may hold
   * a few beyond its running ones (local prefetch) where the controller takes them back (see
   * `releases`). meshStack cannot give a claimed run back.
   */
  readonly canRelease?: boolean;
  /**
   * Whether the controller of the current (or last) session takes held jobs back: it listed the
   * `release` feature in its session answer. Undefined before any session. An older controller
   * ignores a `release`: the job would wait for its lease to expire and use up an attempt.
   */
  releases?(): boolean | undefined;
  status(): ConnectionStatus;
  /** Calls `listener` on every state change; returns the unsubscribe function. */
  onStateChange(listener: (status: ConnectionStatus) => void): () => void;
  /**
   * Runs until `signal` aborts: connects, reconnects, and hands each job to `onJob`.
   * Rejects only on a fatal error; unauthorized is a state, not a rejection.
   */
  run(options: { signal: AbortSignal; onJob: (handle: JobHandle) => void }): Promise<void>;
  /**
   * How many more jobs the runner can take now (`free` slots), and how many more it would hold
   * beyond them (`hold`, local prefetch): granted only while the controller `releases()`. The
   * adapter never hands out more.
   */
  setFreeSlots(free: number, hold?: number): void;
  /** Resolves once every queued result and log line has been acknowledged, or `signal` aborts. */
  flush(signal: AbortSignal): Promise<void>;
}
