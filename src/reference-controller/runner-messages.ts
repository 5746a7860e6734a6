// What the controller does with each message a runner sends: parse (malformed → error frame and
// a count, unknown type → logged once), then credit, accept, reject, heartbeat, log/step, result.

import { message, parseRunnerMessage, type LeaseRef, type RunnerMessage } from "../protocol/edge-v1.ts";
import type { ControllerCore } from "./controller-core.ts";
import { isLeased, isTerminal } from "./job-state.ts";
import type { JobEvent } from "./job-logs.ts";
import type { StoredJob } from "./records.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import type { EdgeSession } from "./session.ts";

type Msg<T extends RunnerMessage["type"]> = Extract<RunnerMessage, { type: T }>;
type Refusal = "stale_attempt" | "unknown_job";

const MAX_FRAME_CHARS = 4 * 1024 * 1024;
/** Messages in one WebSocket batch frame (as many as a long-poll send may carry). */
const MAX_BATCH_MESSAGES = 1000;
/** Credit beyond this is pointless and would only risk overflow from a hostile runner. */
const MAX_CREDIT = 100_000;

export class RunnerMessages {
  readonly #core: ControllerCore;
  readonly #runners: RunnerRegistry;
  readonly #unknownSeen = new Set<string>();

  constructor(core: ControllerCore, runners: RunnerRegistry) {
    this.#core = core;
    this.#runners = runners;
  }

  /** While a batch is handled: the last ack per job attempt, sent once the batch is done. */
  #acks: Map<string, { jobId: string; attempt: number; seq: number }> | undefined;

  /**
   * Handles one frame: a message (text or an already-parsed value) or, in a WebSocket text frame,
   * a JSON array of messages (a batch) handled in order. Never throws.
   */
  handleFrame(session: EdgeSession, frame: unknown): void {
    if (session.closed) return;
    if (typeof frame === "string" && frame.length > MAX_FRAME_CHARS) {
      return this.#malformed(session, `Malformed frame: larger than ${MAX_FRAME_CHARS} characters`);
    }
    if (typeof frame === "string" && frame.charCodeAt(0) === 91 /* "[" */) {
      let batch: unknown;
      try {
        batch = JSON.parse(frame);
      } catch {
        return this.#malformed(session, "Malformed frame: frame is not valid JSON");
      }
      if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH_MESSAGES) {
        return this.#malformed(session, `Malformed frame: a batch must be an array of 1 to ${MAX_BATCH_MESSAGES} messages`);
      }
      this.handleBatch(session, batch);
      return;
    }
    this.#handleMessage(session, frame);
  }

  /**
   * Handles messages that arrived together (a WebSocket batch frame, a long-poll send) in order.
   * Their `ack`s are cumulative, so one per job attempt goes out after the batch instead of one
   * per event: fewer messages, same meaning.
   */
  handleBatch(session: EdgeSession, frames: readonly unknown[]): void {
    const acks = new Map<string, { jobId: string; attempt: number; seq: number }>();
    this.#acks = acks;
    try {
      for (const frame of frames) {
        if (session.closed) return;
        this.#handleMessage(session, frame);
      }
    } finally {
      this.#acks = undefined;
      for (const ack of acks.values()) session.send(message({ type: "ack", ...ack }));
    }
  }

  #handleMessage(session: EdgeSession, frame: unknown): void {
    try {
      const parsed = parseRunnerMessage(frame);
      this.#runners.touch(session.runnerId);
      if (!parsed.ok) {
        if (parsed.kind === "malformed") return this.#malformed(session, parsed.error.message);
        this.#core.counters.unknownTypes++;
        if (!this.#unknownSeen.has(parsed.error.message)) {
          this.#unknownSeen.add(parsed.error.message);
          this.#core.logger.warn("Ignoring a message of an unknown type", { sessionId: session.id, detail: parsed.error.message });
        }
        return;
      }
      this.#dispatch(session, parsed.message);
    } catch (error) {
      // A bug or a failed write: answer with an error frame and keep the session alive; the
      // runner resends whatever was not acked.
      this.#core.logger.error("Cannot handle a runner message", { sessionId: session.id, error: String(error) });
      session.send(message({ type: "error", error: { code: "internal", message: "The controller could not handle the message; resend it" } }));
    }
  }

  /** Binary WebSocket frames carry no protocol message: malformed, answered and counted. */
  handleBinaryFrame(session: EdgeSession): void {
    if (!session.closed) this.#malformed(session, "Malformed frame: binary frames are not supported (send JSON text)");
  }

  /** Counts a malformed frame and answers with an `error` frame. */
  #malformed(session: EdgeSession, detail: string): void {
    this.#core.counters.protocolErrors++;
    this.#core.logger.warn("Malformed frame from a runner", { sessionId: session.id, runnerId: session.runnerId, detail });
    session.send(message({ type: "error", error: { code: "malformed_frame", message: detail } }));
  }

  #dispatch(session: EdgeSession, msg: RunnerMessage): void {
    switch (msg.type) {
      case "credit":
        session.credit = Math.min(MAX_CREDIT, msg.reset === true ? msg.slots : session.credit + msg.slots);
        return this.#core.dispatch(session.group);
      case "accept": return this.#accept(session, msg);
      case "reject": return this.#reject(session, msg);
      case "heartbeat": return this.#heartbeat(session, msg.leases);
      case "log":
      case "step": return this.#event(session, msg);
      case "result": return this.#result(session, msg);
      case "error":
        this.#core.logger.warn("Runner reported an error", { sessionId: session.id, code: msg.error.code, detail: msg.error.message.slice(0, 500) });
        return;
    }
  }

  /** The job when `session`'s runner holds the current lease of (jobId, attempt); else why not. */
  #fence(session: EdgeSession, jobId: string, attempt: number): StoredJob | Refusal {
    let job = this.#core.getJob(jobId);
    if (job === undefined) return "unknown_job";
    if (job.attempt !== attempt || job.runnerId !== session.runnerId || !isLeased(job.status)) return "stale_attempt";
    // Expired but not yet swept: expire it now so the answer does not depend on sweep timing.
    if ((job.leaseExpiresAt ?? 0) <= this.#core.clock.now()) {
      job = this.#core.expireLease(job);
      return "stale_attempt";
    }
    return job;
  }

  #accept(session: EdgeSession, msg: Msg<"accept">): void {
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") return this.#stale(session, msg.jobId, msg.attempt, "accept", job);
    this.#core.leaseSession.set(job.id, session.id);
    if (job.status !== "leased") return;
    this.#core.store.putJobs([{ ...job, status: "running", startedAt: job.startedAt ?? this.#core.clock.now() }]);
  }

  #reject(session: EdgeSession, msg: Msg<"reject">): void {
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") return this.#stale(session, msg.jobId, msg.attempt, "reject", job);
    this.#core.logger.info("Job rejected by the runner", { jobId: job.id, attempt: job.attempt, runnerId: session.runnerId, code: msg.error.code });
    if (job.status === "cancelling") {
      this.#core.finish(job, "cancelled");
      return;
    }
    this.#core.requeueOrFail(job, { code: msg.error.code, message: `Runner "${session.runnerId}" rejected job "${job.id}": ${msg.error.message}` });
  }

  #heartbeat(session: EdgeSession, leases: LeaseRef[]): void {
    const now = this.#core.clock.now();
    const leaseExpiresAt = now + this.#core.settings.leaseTtlMs;
    const answers: Array<LeaseRef & { ok: boolean; leaseExpiresAt?: number; reason?: string }> = [];
    const extended: StoredJob[] = [];
    const cancels: StoredJob[] = [];
    for (const lease of leases) {
      const job = this.#fence(session, lease.jobId, lease.attempt);
      if (typeof job === "string") {
        const current = this.#core.getJob(lease.jobId);
        answers.push({ ...lease, ok: false, reason: current === undefined ? job : refusalOf(current, lease.attempt) });
        continue;
      }
      // A heartbeat from a newer session moves the lease there; a pending cancel follows it.
      if (job.status === "cancelling" && this.#core.leaseSession.get(job.id) !== session.id) cancels.push(job);
      this.#core.leaseSession.set(job.id, session.id);
      extended.push({ ...job, leaseExpiresAt });
      answers.push({ jobId: job.id, attempt: job.attempt, ok: true, leaseExpiresAt });
    }
    // Durable before the ack: after a controller restart the lease keeps its extended expiry.
    this.#core.store.putJobs(extended);
    session.send(message({ type: "heartbeat_ack", leases: answers }));
    for (const job of cancels) {
      session.send(message({ type: "cancel", jobId: job.id, attempt: job.attempt, reason: job.error?.message ?? "cancelled" }));
    }
  }

  #event(session: EdgeSession, msg: Msg<"log"> | Msg<"step">): void {
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") return this.#stale(session, msg.jobId, msg.attempt, msg.type, job);
    const cursor = this.#core.cursor(job);
    // Only the next seq is stored: a duplicate is dropped, a gap is never written (the runner
    // resends from the acked seq on `events_missing` or a new session).
    if (msg.seq === cursor.highestSeq + 1) {
      const base = { seq: cursor.count + 1, attempt: msg.attempt, attemptSeq: msg.seq };
      const event: JobEvent = msg.type === "log" ? { ...base, type: "log", lines: msg.lines } : { ...base, type: "step", step: msg.step };
      this.#core.logs.append(job.id, [event]);
      cursor.count++;
      cursor.highestSeq = msg.seq;
    }
    const ack = { jobId: job.id, attempt: job.attempt, seq: cursor.highestSeq };
    if (this.#acks !== undefined) this.#acks.set(`${job.id}#${job.attempt}`, ack);
    else session.send(message({ type: "ack", ...ack }));
  }

  #result(session: EdgeSession, msg: Msg<"result">): void {
    const ack = (accepted: boolean, extra: { reason?: "stale_attempt" | "unknown_job" | "events_missing"; expectedSeq?: number } = {}) =>
      session.send(message({ type: "result_ack", jobId: msg.jobId, attempt: msg.attempt, accepted, ...extra }));
    const current = this.#core.getJob(msg.jobId);
    // A result resent because its ack was lost: acknowledge it again.
    if (current !== undefined && isTerminal(current.status) && current.reportedAttempt === msg.attempt && current.runnerId === session.runnerId) {
      return ack(true);
    }
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") {
      this.#stale(session, msg.jobId, msg.attempt, "result", job);
      return ack(false, { reason: job });
    }
    const cursor = this.#core.cursor(job);
    if (msg.lastSeq > cursor.highestSeq) return ack(false, { reason: "events_missing", expectedSeq: cursor.highestSeq + 1 });

    const patch: Partial<StoredJob> = {
      reportedAttempt: msg.attempt,
      startedAt: job.startedAt ?? msg.startedAt,
      ...(msg.output === undefined ? {} : { output: msg.output }),
      ...(msg.error === undefined ? {} : { error: msg.error }),
    };
    if (job.status === "cancelling") this.#core.finish(job, "cancelled", patch);
    else if (msg.status === "interrupted") {
      const error = msg.error ?? { code: "job_interrupted", message: `Runner "${session.runnerId}" stopped before job "${job.id}" finished` };
      const { reportedAttempt: _r, ...requeuePatch } = patch;
      if (job.attempt < job.maxAttempts) this.#core.requeueOrFail(job, error, requeuePatch);
      else this.#core.finish(job, "failed", { ...patch, error: { code: "job_interrupted", message: error.message } });
    } else {
      const { error: _e, ...rest } = patch;
      this.#core.finish(job, msg.status, msg.status === "succeeded" && msg.error === undefined ? rest : patch);
    }
    ack(true);
  }

  #stale(session: EdgeSession, jobId: string, attempt: number, what: string, reason: Refusal): void {
    this.#core.counters.staleEvents++;
    this.#core.logger.info("Dropping a message about a job this runner does not hold", { what, jobId, attempt, runnerId: session.runnerId, reason });
  }
}

/** Why a heartbeat lease is refused, in the words of docs/protocol.md. */
function refusalOf(job: StoredJob, attempt: number): string {
  if (job.attempt !== attempt || !isTerminal(job.status)) return "stale_attempt";
  return job.status === "cancelled" ? "cancelled" : "finished";
}
