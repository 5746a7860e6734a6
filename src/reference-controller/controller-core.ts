// The reference controller's engine: job queue per group, leases, dispatch of offers to
// sessions with credit, re-queue and failure, cancellation, and waiters for terminal jobs.
// Everything here is synchronous: a change is applied and appended at once, and whatever
// acknowledges it (an offer, a wake-up) waits for the group commit to make it durable.

import { randomBytes } from "node:crypto";
import { EdgeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { message, type WireError } from "../protocol/edge-v1.ts";
import type { Clock } from "../util/time.ts";
import { isLeased, isTerminal, transitionJob, type JobState } from "./job-state.ts";
import type { EventCursor } from "./job-logs.ts";
import { JobQueue } from "./job-queue.ts";
import { FinishedJobs } from "./job-retention.ts";
import { JobWaiters } from "./job-waiters.ts";
import { attemptsUsed, type StoredJob } from "./records.ts";
import { finishedAt, offerOf, type ControllerCounters, type CoreOptions, type CoreSettings, type SubmitJobInput } from "./core-types.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { EventStore, StateStore } from "./store-seam.ts";

export type { ControllerCounters, CoreOptions, CoreSettings, SubmitJobInput } from "./core-types.ts";
export { offerOf } from "./core-types.ts";

export class ControllerCore {
  readonly store: StateStore;
  readonly logs: EventStore;
  readonly #artifacts: { drop(ids: readonly string[]): void } | undefined;
  readonly sessions: SessionRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: Readonly<CoreSettings>;
  readonly counters: ControllerCounters = { protocolErrors: 0, unknownTypes: 0, staleEvents: 0, offers: 0 };
  readonly #queues = new Map<string, JobQueue>();
  /** Jobs a runner holds a lease on: the expiry sweep looks only at these. */
  readonly #leased = new Set<string>();
  /** Which session last sent or received something about a lease (to re-send a cancel). */
  readonly leaseSession = new Map<string, string>();
  readonly #waiters = new JobWaiters();
  #finished: FinishedJobs;
  /** Background steps as health shows them: a failure is logged, retried, and counted here. */
  readonly background: { sweep: { failures: number; lastError?: string; lastFailedAt?: number } } = { sweep: { failures: 0 } };
  /** Called before every lease decision (the controller wires its pause detector here). */
  awake: () => void = () => {};
  /** Per leased job: no expiry before this (a restart's or a pause's grace), whatever its lease says. */
  readonly #graceUntil = new Map<string, number>();

  constructor(options: CoreOptions) {
    this.store = options.store;
    // At most one job out: a small batch is fsync'd on the loop's thread (group-commit.ts).
    this.store.commits.fsyncHereWhen(() => this.#leased.size <= 1);
    this.logs = options.logs;
    this.#artifacts = options.artifacts;
    this.sessions = options.sessions;
    this.clock = options.clock;
    this.logger = options.logger;
    this.settings = {
      leaseTtlMs: options.leaseTtlMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      pollWaitMs: options.pollWaitMs,
      maxAttempts: options.maxAttempts,
      jobRetentionMs: options.jobRetentionMs,
      leaseGraceMs: options.leaseGraceMs,
    };
    this.#finished = new FinishedJobs(options.jobRetentionMs);
    this.reindex("the controller started");
  }

  /**
   * Rebuilds queues, leases and retention from the store's view: at start, and after the
   * database store reloaded its view on a reconnect (what memory held beyond it never committed).
   */
  reindex(why: string): void {
    this.#queues.clear();
    this.#leased.clear();
    this.#graceUntil.clear();
    this.leaseSession.clear();
    this.#finished = new FinishedJobs(this.settings.jobRetentionMs);
    const finished: StoredJob[] = [];
    for (const job of [...this.store.jobs.values()].sort((a, b) => a.queueSeq - b.queueSeq)) {
      if (job.status === "queued") this.#queue(job.group).insert(job.id, job.queueSeq);
      if (isLeased(job.status)) this.#leased.add(job.id);
      if (isTerminal(job.status)) finished.push(job);
    }
    for (const job of finished.sort((a, b) => finishedAt(a) - finishedAt(b))) this.#finished.add(job.id, finishedAt(job));
    // Replayed leases lapsed while the controller was down: none expires before the grace.
    this.graceLeases(why);
    // A replayed journal brings back jobs pruned before the restart: prune them again, and drop
    // the events of jobs the store no longer has.
    this.pruneFinished();
    this.logs.retainOnly((id) => this.store.jobs.has(id));
  }

  /** Groups with a queue (to dispatch each after a reindex). */
  groups(): string[] {
    return [...this.#queues.keys()];
  }

  #queue(group: string): JobQueue {
    let queue = this.#queues.get(group);
    if (queue === undefined) this.#queues.set(group, (queue = new JobQueue()));
    return queue;
  }

  queuedCount(group?: string): number {
    if (group !== undefined) return this.#queues.get(group)?.size ?? 0;
    let n = 0;
    for (const q of this.#queues.values()) n += q.size;
    return n;
  }

  getJob(id: string): StoredJob | undefined {
    return this.store.jobs.get(id);
  }

  requireJob(id: string, action: string): StoredJob {
    const job = this.store.jobs.get(id);
    if (job === undefined) throw new EdgeError("not_found", `Cannot ${action} job "${id}": no such job`);
    return job;
  }

  /** Validated input in, a durable queued job out (and offered at once if a session has credit). */
  submitJob(input: SubmitJobInput): StoredJob {
    const now = this.clock.now();
    const job: StoredJob = {
      id: `job_${now.toString(36)}${randomBytes(9).toString("base64url")}`,
      group: input.group ?? "default",
      plugin: input.plugin,
      action: input.action ?? "default",
      input: input.input ?? {},
      status: "queued",
      attempt: 0,
      maxAttempts: input.maxAttempts ?? this.settings.maxAttempts,
      submittedAt: now,
      queueSeq: this.store.nextQueueSeq(),
      ...(input.timeoutMs === undefined ? {} : { timeoutMs: input.timeoutMs }),
      ...(input.secrets === undefined ? {} : { secrets: input.secrets }),
    };
    this.store.putJobs([job]);
    this.#queue(job.group).insert(job.id, job.queueSeq);
    this.logger.info("Job submitted", { jobId: job.id, group: job.group, plugin: job.plugin });
    this.dispatch(job.group);
    return this.store.jobs.get(job.id) ?? job;
  }

  /** Leases the oldest queued jobs of `group` to sessions with credit, then sends the offers. */
  dispatch(group: string): void {
    const queue = this.#queues.get(group);
    if (queue === undefined || queue.size === 0) return;
    const now = this.clock.now();
    const batch: Array<{ job: StoredJob; sessionId: string; previous: StoredJob }> = [];
    while (queue.size > 0) {
      const session = this.sessions.nextWithCredit(group);
      if (session === undefined) break;
      const id = queue.shift() as string;
      const previous = this.store.jobs.get(id);
      if (previous === undefined || previous.status !== "queued") continue;
      session.credit--;
      const { error: _e, lapsedRunnerId: _l, ...rest } = previous;
      batch.push({
        previous,
        sessionId: session.id,
        job: {
          ...rest,
          status: transitionJob(id, previous.status, "leased"),
          attempt: previous.attempt + 1,
          runnerId: session.runnerId,
          leaseExpiresAt: now + this.settings.leaseTtlMs,
        },
      });
    }
    if (batch.length === 0) return;
    try {
      // Attempt and lease are durable before any offer leaves (docs/protocol.md).
      this.store.putJobs(batch.map((b) => b.job));
    } catch (error) {
      this.logger.error("Cannot lease jobs: the store write failed; they stay queued", { error: String(error) });
      for (const b of batch) {
        queue.insert(b.previous.id, b.previous.queueSeq);
        const session = this.sessions.get(b.sessionId);
        if (session !== undefined) session.credit++;
      }
      return;
    }
    for (const { job, sessionId } of batch) {
      this.#leased.add(job.id);
      this.leaseSession.set(job.id, sessionId);
      this.counters.offers++;
      // Attempt and lease are durable before the offer leaves: sessions send after the batch's
      // commit, and only if the stored lease is still this one (another replica may have leased
      // the job first: this write lost its compare-and-swap; the credit comes back).
      const session = this.sessions.get(sessionId);
      session?.send(message({ type: "offer", job: offerOf(job) }), () => {
        const now = this.store.jobs.get(job.id);
        if (now !== undefined && now.attempt === job.attempt && now.runnerId === job.runnerId && isLeased(now.status)) return true;
        this.counters.offers--;
        session.credit++;
        this.logger.info("Offer withdrawn: another replica leased the job first", { jobId: job.id, attempt: job.attempt });
        queueMicrotask(() => this.dispatch(job.group));
        return false;
      });
      this.logger.debug("Job offered", { jobId: job.id, attempt: job.attempt, runnerId: job.runnerId });
    }
  }

  /**
   * Jobs another replica changed (its NOTIFY, or a compare-and-swap this one lost), already in the
   * store's view: queues, leases and waiters follow, and what became queued is dispatched here too.
   */
  applyRemote(jobs: readonly StoredJob[], deleted: readonly string[]): void {
    const groups = new Set<string>();
    for (const id of deleted) {
      this.#release(id);
      for (const queue of this.#queues.values()) queue.remove(id);
    }
    for (const job of jobs) {
      this.#queue(job.group).remove(job.id);
      if (job.status === "queued") {
        this.#release(job.id);
        this.#queue(job.group).insert(job.id, job.queueSeq);
        groups.add(job.group);
      } else if (isLeased(job.status)) {
        this.#leased.add(job.id);
        const session = job.runnerId === undefined ? undefined : this.sessions.ofRunner(job.runnerId);
        if (session === undefined) this.leaseSession.delete(job.id);
        // Cancelled through another replica: the runner's session is here.
        else if (job.status === "cancelling") session.send(message({ type: "cancel", jobId: job.id, attempt: job.attempt, reason: job.error?.message ?? "cancelled" }));
      } else if (isTerminal(job.status)) {
        this.#release(job.id);
        this.#finished.add(job.id, finishedAt(job));
        this.#waiters.wake(job.id);
      }
    }
    for (const group of groups) this.dispatch(group);
  }

  /** The event cursor of a job's current attempt (from the event journal's in-memory index). */
  cursor(job: StoredJob): EventCursor {
    return this.logs.cursor(job.id, job.attempt);
  }

  /**
   * Gives every current lease a fresh grace (`leaseGraceMs` from now) before any may expire: after
   * a start, and after the controller was paused, when a lease lapsed because the controller was
   * away. Kept in memory only: a crash replays the journal, and the start grants it again.
   */
  graceLeases(why: string): number {
    const until = this.clock.now() + Math.max(this.settings.leaseGraceMs, this.settings.leaseTtlMs);
    for (const id of this.#leased) this.#graceUntil.set(id, until);
    if (this.#leased.size > 0) this.logger.info(`Leases get a fresh grace before any expires: ${why}`, { leases: this.#leased.size, graceMs: until - this.clock.now() });
    return this.#leased.size;
  }

  /** When the lease of `job` lapses: its own expiry, or a grace after a restart or pause if later. */
  leaseExpiry(job: StoredJob): number {
    return Math.max(job.leaseExpiresAt ?? 0, this.#graceUntil.get(job.id) ?? 0);
  }

  /**
   * Takes back a lease that expired while its job waits for a new lease, for the runner that held
   * it: a message from that runner about that attempt shows it is alive and still running it, so
   * re-running the job elsewhere would only do the work twice (fencing refuses only a job that
   * was leased again). Returns the leased job, or undefined when it cannot be taken back.
   */
  reviveLease(job: StoredJob, runnerId: string, sessionId: string): StoredJob | undefined {
    if (job.status !== "queued" || job.lapsedRunnerId !== runnerId || job.attempt === 0) return undefined;
    const { error: _e, lapsedRunnerId: _l, ...rest } = job;
    const next: StoredJob = {
      ...rest,
      status: transitionJob(job.id, job.status, "leased"),
      runnerId,
      leaseExpiresAt: this.clock.now() + this.settings.leaseTtlMs,
    };
    this.store.putJobs([next]);
    this.#queues.get(job.group)?.remove(job.id);
    this.#leased.add(job.id);
    this.leaseSession.set(job.id, sessionId);
    this.logger.info("Lease taken back by its runner after it expired (the job was not leased again)", { jobId: job.id, attempt: job.attempt, runnerId });
    return next;
  }

  /** Ends a leased job: back to the queue while attempts remain, otherwise failed with `error`. */
  requeueOrFail(job: StoredJob, error: WireError, patch: Partial<StoredJob> = {}): StoredJob {
    if (attemptsUsed(job) < job.maxAttempts) {
      const { runnerId: _r, leaseExpiresAt: _l, ...rest } = job;
      const next: StoredJob = { ...rest, ...patch, status: transitionJob(job.id, job.status, "queued"), error };
      this.store.putJobs([next]);
      this.#release(job.id);
      this.#queue(job.group).insert(job.id, job.queueSeq);
      this.logger.info("Job re-queued", { jobId: job.id, attempt: job.attempt, reason: error.code });
      this.dispatch(job.group);
      return next;
    }
    return this.finish(job, "failed", { ...patch, error });
  }

  /** Moves a job to a terminal state durably and wakes whoever waits for it. */
  finish(job: StoredJob, status: JobState, patch: Partial<StoredJob> = {}): StoredJob {
    const { leaseExpiresAt: _l, lapsedRunnerId: _r, ...rest } = job;
    const next: StoredJob = { ...rest, ...patch, status: transitionJob(job.id, job.status, status), finishedAt: this.clock.now() };
    this.store.putJobs([next]);
    this.#release(job.id);
    this.#queues.get(job.group)?.remove(job.id);
    this.logger.info("Job finished", { jobId: job.id, attempt: job.attempt, status, errorCode: next.error?.code });
    this.#finished.add(job.id, finishedAt(next));
    this.store.commits.afterDurable(() => this.#waiters.wake(job.id));
    return next;
  }

  #release(jobId: string): void {
    this.#leased.delete(jobId);
    this.#graceUntil.delete(jobId);
    this.leaseSession.delete(jobId);
  }

  /** Forgets finished jobs past their retention, and their events; returns how many. */
  pruneFinished(): number {
    // Only jobs still finished: a finish whose write lost to another replica (PostgreSQL) left its
    // id here while the job lives on as that replica wrote it; it is added again when it ends.
    const ids = this.#finished.expired(this.clock.now()).filter((id) => {
      const job = this.store.jobs.get(id);
      return job === undefined || isTerminal(job.status);
    });
    if (ids.length === 0) return 0;
    this.store.forgetJobs(ids);
    this.logs.drop(ids);
    this.#artifacts?.drop(ids);
    this.logger.info("Pruned finished jobs past their retention", { jobs: ids.length, retentionMs: this.settings.jobRetentionMs });
    return ids.length;
  }

  /** Queued: cancelled at once. Leased: `cancel` to the holder, `cancelling` until it reports. */
  cancelJob(id: string, reason = "an operator asked for it"): StoredJob {
    const job = this.requireJob(id, "cancel");
    if (job.status === "cancelling") return job;
    if (isTerminal(job.status)) throw new EdgeError("conflict", `Cannot cancel job "${id}": it is already ${job.status}`);
    if (job.status === "queued") {
      return this.finish(job, "cancelled", { error: { code: "job_cancelled", message: reason } });
    }
    const next: StoredJob = { ...job, status: transitionJob(id, job.status, "cancelling"), error: { code: "job_cancelled", message: reason } };
    this.store.putJobs([next]);
    const session = job.runnerId === undefined ? undefined : this.sessions.ofRunner(job.runnerId);
    session?.send(message({ type: "cancel", jobId: id, attempt: job.attempt, reason }));
    if (session !== undefined) this.leaseSession.set(id, session.id);
    this.logger.info("Job cancelling", { jobId: id, attempt: job.attempt, runnerId: job.runnerId });
    return next;
  }

  /** Expires every lease past its time; returns how many expired. Called by the lease sweeper. */
  expireLeases(): number {
    this.awake();
    const now = this.clock.now();
    let expired = 0;
    for (const id of [...this.#leased]) {
      const job = this.store.jobs.get(id);
      if (job !== undefined && this.leaseExpiry(job) <= now) {
        this.expireLease(job);
        expired++;
      }
    }
    return expired;
  }

  expireLease(job: StoredJob): StoredJob {
    this.logger.warn("Job lease expired", { jobId: job.id, attempt: job.attempt, runnerId: job.runnerId });
    if (job.status === "cancelling") return this.finish(job, "cancelled");
    const error = { code: "lease_expired", message: `Lease of job "${job.id}" expired on attempt ${job.attempt} of ${job.maxAttempts}` };
    return this.requeueOrFail(job, error, job.runnerId === undefined ? {} : { lapsedRunnerId: job.runnerId });
  }

  /** The earliest lease expiry, for the sweeper to sleep until. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const id of this.#leased) {
      const job = this.store.jobs.get(id);
      const at = job === undefined ? undefined : this.leaseExpiry(job);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  leasedBy(runnerId: string): number {
    let n = 0;
    for (const id of this.#leased) if (this.store.jobs.get(id)?.runnerId === runnerId) n++;
    return n;
  }

  /** The job once it is terminal (and durably so), or as it is after `timeoutMs`, whichever comes first. */
  async waitForJob(id: string, timeoutMs: number, signal?: AbortSignal): Promise<StoredJob> {
    const job = this.requireJob(id, "wait for");
    if (!isTerminal(job.status) && timeoutMs > 0) await this.#waiters.wait(id, timeoutMs, signal);
    // Never answer with a state a crash could still take back.
    await this.store.durable();
    return this.store.jobs.get(id) ?? job;
  }

  /** Wakes every waiter (on shutdown, so long-polls answer instead of hanging). */
  wakeAll(): void {
    this.#waiters.wakeAll();
  }
}

