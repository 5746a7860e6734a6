// The reference controller core's settings and the shapes it takes and counts (controller-core.ts),
// and the offer a runner gets for a leased job.

import type { JobOffer } from "../protocol/edge-v1.ts";
import type { StoredJob } from "./records.ts";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../util/time.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { EventStore, StateStore } from "./store-seam.ts";

export interface CoreSettings {
  leaseTtlMs: number;
  heartbeatIntervalMs: number;
  pollWaitMs: number;
  maxAttempts: number;
  /** Finished jobs and their events are pruned this long after they finished. */
  jobRetentionMs: number;
  /**
   * After the controller starts, or resumes from a pause (SIGSTOP, a frozen VM), no lease expires
   * before this long: leases lapsed because the controller was away, not the runner, and its
   * runners need time to reconnect (their backoff) and heartbeat.
   */
  leaseGraceMs: number;
}

export interface SubmitJobInput {
  plugin: string;
  action?: string;
  input?: unknown;
  group?: string;
  timeoutMs?: number;
  maxAttempts?: number;
  /** Secret references the job may resolve (controller store); names only. */
  secrets?: string[];
}

export interface ControllerCounters {
  protocolErrors: number;
  unknownTypes: number;
  staleEvents: number;
  offers: number;
}

/** When a job finished, for retention (its submit time if it never ran). */
export function finishedAt(job: StoredJob): number {
  return job.finishedAt ?? job.submittedAt;
}

export function offerOf(job: StoredJob): JobOffer {
  return {
    id: job.id,
    attempt: job.attempt,
    group: job.group,
    plugin: job.plugin,
    action: job.action,
    input: job.input,
    ...(job.timeoutMs === undefined ? {} : { timeoutMs: job.timeoutMs }),
    ...(job.secrets === undefined ? {} : { secrets: job.secrets }),
    leaseExpiresAt: job.leaseExpiresAt ?? 0,
    submittedAt: job.submittedAt,
  };
}

/** What the core is built with: its settings and the stores, sessions, clock and logger it uses. */
export interface CoreOptions extends CoreSettings {
  store: StateStore;
  logs: EventStore;
  /** Artifacts of jobs, dropped with them when their retention ends. */
  artifacts?: { drop(ids: readonly string[]): void };
  sessions: SessionRegistry;
  clock: Clock;
  logger: Logger;
}
