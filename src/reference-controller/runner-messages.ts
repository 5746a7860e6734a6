// What the controller does with each message a runner sends: parse (malformed → error frame and
// a count, unknown type → logged once), then credit, accept, reject, heartbeat, log/step, result.

import { CLOSE_MESSAGE_TOO_BIG, MAX_BATCH_MESSAGES, MAX_FRAME_CHARS, messageTooBig } from "../protocol/limits.ts";
import { message, parseRunnerMessage, type LeaseRef, type RunnerMessage } from "../protocol/edge-v1.ts";
import type { ControllerCore } from "./controller-core.ts";
import { isLeased, isTerminal } from "./job-state.ts";
import type { JobEvent } from "./job-logs.ts";
import { attemptsUsed, type StoredJob } from "./records.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import type { EdgeSession } from "./session.ts";
import { clip } from "../log/warn-limiter.ts";
import { recheckBeforeRefusal } from "./stale-view-recheck.ts";
import { checkJsonBounds, describeJsonProblem, STORED_JSON_BOUNDS } from "../util/json-bounds.ts";

type Msg<T extends RunnerMessage["type"]> = Extract<RunnerMessage, { type: T }>;
type Refusal = "stale_attempt" | "unknown_job";

/** Credit beyond this is pointless and would only risk overflow from a hostile runner. */
const MAX_CREDIT = 100_000;

export class RunnerMessages {
  readonly #core: ControllerCore;
  readonly #runners: RunnerRegistry;

  /** Seals a result's sensitive outputs before anything stores them (sensitive-outputs.ts). */
  readonly #seal: (jobId: string, output: unknown) => unknown;

  constructor(core: ControllerCore, runners: RunnerRegistry, seal: (jobId: string, output: unknown) => unknown = (_id, output) => output) {
    this.#seal = seal;
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
    this.#core.awake();
    // Where the server takes no cap (Deno) an oversized message arrives whole: close, as Bun.serve and `ws` do (1009).
    const tooBig = messageTooBig(frame);
    if (tooBig !== undefined) {
      this.#core.counters.protocolErrors++;
      this.#warn(session, "malformed", "Closing a runner's WebSocket: a message over the cap", { detail: tooBig });
      return session.close(CLOSE_MESSAGE_TOO_BIG, tooBig);
    }
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
    this.#core.awake();
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
        this.#warn(session, "unknown_type", "Ignoring a message of an unknown type", { detail: parsed.error.message });
        return;
      }
      this.#dispatch(session, parsed.message);
    } catch (error) {
      // A bug or a failed write: answer with an error frame and keep the session alive; the
      // runner resends whatever was not acked.
      this.#warn(session, "internal", "Cannot handle a runner message", { error: String(error) }, "error");
      session.send(message({ type: "error", error: { code: "internal", message: "The controller could not handle the message; resend it" } }));
    }
  }

  /** Binary WebSocket frames carry no protocol message: malformed, answered and counted. */
  handleBinaryFrame(session: EdgeSession, data?: unknown): void {
    if (session.closed) return;
    if (messageTooBig(data) !== undefined) return this.handleFrame(session, data);
    this.#malformed(session, "Malformed frame: binary frames are not supported (send JSON text)");
  }

  /**
   * Logs a warning about what a session sent, rate-limited per session and kind (never keyed on
   * the peer's text, so a flood of distinct strings cannot grow a set or the log), with every
   * field from outside clipped and the count of warnings suppressed since the last one logged.
   */
  #warn(session: EdgeSession, kind: string, text: string, fields: Record<string, string>, level: "warn" | "error" = "warn"): void {
    const decision = session.warnings.allow(kind);
    if (!decision.log) return;
    const clipped: Record<string, unknown> = { sessionId: session.id, runnerId: session.runnerId };
    for (const [key, value] of Object.entries(fields)) clipped[key] = clip(value);
    if (decision.suppressed > 0) clipped.suppressed = decision.suppressed;
    this.#core.logger[level](text, clipped);
  }

  /** Counts a malformed frame and answers with an `error` frame. */
  #malformed(session: EdgeSession, detail: string): void {
    this.#core.counters.protocolErrors++;
    this.#warn(session, "malformed", "Malformed frame from a runner", { detail });
    session.send(message({ type: "error", error: { code: "malformed_frame", message: detail } }));
  }

  #dispatch(session: EdgeSession, msg: RunnerMessage): void {
    switch (msg.type) {
      case "credit":
        session.credit = Math.min(MAX_CREDIT, msg.reset === true ? msg.slots : session.credit + msg.slots);
        return this.#core.dispatch(session.group);
      case "accept": return this.#accept(session, msg);
      case "reject": return this.#reject(session, msg);
      case "release": return this.#release(session, msg);
      case "heartbeat": return this.#heartbeat(session, msg.leases);
      case "log":
      case "step": return this.#event(session, msg);
      case "result": return this.#result(session, msg);
      case "error":
        this.#warn(session, "runner_error", "Runner reported an error", { code: msg.error.code, detail: msg.error.message });
        return;
    }
  }

  /** The job when `session`'s runner holds the current lease of (jobId, attempt); else why not. */
  #fence(session: EdgeSession, jobId: string, attempt: number): StoredJob | Refusal {
    const job = this.#core.getJob(jobId);
    if (job === undefined) return "unknown_job";
    if (job.attempt !== attempt) return "stale_attempt";
    // Fencing refuses only when a newer attempt exists (or the job ended): a lease that expired
    // while the job waits to be leased again goes back to the runner that shows it still runs it.
    if (job.status === "queued") return this.#core.reviveLease(job, session.runnerId, session.id) ?? "stale_attempt";
    if (job.runnerId !== session.runnerId || !isLeased(job.status)) return "stale_attempt";
    // A lease past its expiry but not swept yet is still this runner's: the message shows it is alive.
    return job;
  }

  /**
   * Whether this view says `session`'s runner holds (jobId, attempt), without #fence()'s revival
   * of a lapsed lease (a question, not a change).
   */
  #holds(session: EdgeSession, jobId: string, attempt: number): boolean {
    const job = this.#core.getJob(jobId);
    if (job === undefined || job.attempt !== attempt) return false;
    // A queued job is refused unless its lapsed lease can be revived: read it again first too.
    return job.runnerId === session.runnerId && isLeased(job.status);
  }

  /** `reread`: the job's row was read again after this view refused it (stale-view-recheck.ts). */
  #accept(session: EdgeSession, msg: Msg<"accept">, reread = false): void {
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") {
      if (!reread && recheckBeforeRefusal(this.#core, session, [msg.jobId], () => this.#accept(session, msg, true))) return;
      return this.#stale(session, msg.jobId, msg.attempt, "accept", job);
    }
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

  /**
   * A job the runner held unstarted and gives back (drain, or held past its bound): queued again
   * at once without using up an attempt. Only the lease's own runner may release it, and not a
   * job whose lease already lapsed (it is queued again, and an expiry counts). After `accept` the
   * job may have run: that counts like a reject (the runner never does this).
   */
  #release(session: EdgeSession, msg: Msg<"release">): void {
    const job = this.#core.getJob(msg.jobId);
    if (job === undefined || job.attempt !== msg.attempt || job.runnerId !== session.runnerId || !isLeased(job.status)) {
      return this.#stale(session, msg.jobId, msg.attempt, "release", job === undefined ? "unknown_job" : "stale_attempt");
    }
    if (job.status === "cancelling") this.#core.finish(job, "cancelled");
    else if (job.status === "running") this.#core.requeueOrFail(job, { code: "job_released", message: `Runner "${session.runnerId}" gave back job "${job.id}" after it accepted it` });
    // Counted as given back, the lease is not used up: requeueOrFail always re-queues it.
    else this.#core.requeueOrFail({ ...job, releasedLeases: (job.releasedLeases ?? 0) + 1 }, { code: "job_released", message: `Runner "${session.runnerId}" gave back job "${job.id}" unstarted` });
  }

  /**
   * `retries`: how often this beat may be answered again when its lease extension lost its
   * compare-and-swap (another replica changed the job after this one last read it).
   */
  #heartbeat(session: EdgeSession, leases: LeaseRef[], retries = 2, reread = false): void {
    const now = this.#core.clock.now();
    const leaseExpiresAt = now + this.#core.settings.leaseTtlMs;
    const answers: Array<LeaseRef & { ok: boolean; leaseExpiresAt?: number; reason?: string }> = [];
    const extended: StoredJob[] = [];
    const cancels: StoredJob[] = [];
    // One answer and at most one write per lease, however often a frame lists it.
    const seen = new Set<string>();
    // A lease this view refuses may be one it has not heard of yet: the beat is answered once its
    // jobs were read again (ok:false has the runner abort the job).
    if (!reread) {
      const refused = leases.filter((lease) => !this.#holds(session, lease.jobId, lease.attempt)).map((lease) => lease.jobId);
      if (recheckBeforeRefusal(this.#core, session, [...new Set(refused)], () => this.#heartbeat(session, leases, retries, true))) return;
    }
    for (const lease of leases) {
      const key = `${lease.jobId}#${lease.attempt}`;
      if (seen.has(key)) continue;
      seen.add(key);
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
    // Asked before the write: it names the batch the write joins.
    const landed = extended.map((job) => this.#core.store.writeLanded?.(job.id)).filter((check) => check !== undefined);
    this.#core.store.putJobs(extended);
    // An extension that lost its compare-and-swap did not happen: `ok` for it would have the
    // runner go on with a lease another replica re-queued or ended. This ack is dropped and the
    // beat answered again from the reloaded view (the store reloads lost jobs before it sends):
    // a refusal with its reason, a revived or extended lease, and a cancel (applyRemote) alike.
    session.send(message({ type: "heartbeat_ack", leases: answers }), () => {
      if (landed.every((check) => check())) return true;
      if (session.closed) return false;
      if (retries > 0) queueMicrotask(() => this.#heartbeat(session, leases, retries - 1, reread));
      else this.#core.logger.info("Heartbeat left unanswered: its lease writes kept losing to other replicas", { runnerId: session.runnerId, leases: leases.length });
      return false;
    });
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
      let event: JobEvent = msg.type === "log" ? { ...base, type: "log", lines: msg.lines } : { ...base, type: "step", step: storedStep(msg.step) };
      // Quotas per job and for the whole journal: past one, a visible marker once, then events
      // without content (their seq is kept, so acks and `lastSeq` stay true).
      const admission = this.#core.logs.admit(job.id, approximateBytes(event));
      if (admission === "truncate") event = { ...base, type: "log", lines: [this.#core.logs.truncationLine(this.#core.clock.now())], truncated: true };
      else if (admission === "drop") event = { ...base, type: "log", lines: [] };
      this.#core.logs.append(job.id, [event]);
      cursor.count++;
      cursor.highestSeq = msg.seq;
    }
    const ack = { jobId: job.id, attempt: job.attempt, seq: cursor.highestSeq };
    if (this.#acks !== undefined) this.#acks.set(`${job.id}#${job.attempt}`, ack);
    else session.send(message({ type: "ack", ...ack }));
  }

  /** `reread`, `rereadEvents`: the job's row, its event count, was read again after this view refused. */
  #result(session: EdgeSession, msg: Msg<"result">, reread = false, rereadEvents = false): void {
    const ack = (accepted: boolean, extra: { reason?: "stale_attempt" | "unknown_job" | "events_missing"; expectedSeq?: number } = {}) =>
      session.send(message({ type: "result_ack", jobId: msg.jobId, attempt: msg.attempt, accepted, ...extra }), accepted ? notLost : undefined);
    // A result written on a stale view (another replica changed the job first) did not land: no
    // ack, so the runner resends it and is answered from the stored state.
    const notLost = this.#core.store.writeLanded?.(msg.jobId);
    const current = this.#core.getJob(msg.jobId);
    // A result resent because its ack was lost: acknowledge it again.
    if (current !== undefined && isTerminal(current.status) && current.reportedAttempt === msg.attempt && current.runnerId === session.runnerId) {
      return ack(true);
    }
    const job = this.#fence(session, msg.jobId, msg.attempt);
    if (typeof job === "string") {
      // Refused, the runner drops the result for good: only once the stored row says so too.
      if (!reread && recheckBeforeRefusal(this.#core, session, [msg.jobId], () => this.#result(session, msg, true, rereadEvents))) return;
      this.#stale(session, msg.jobId, msg.attempt, "result", job);
      return ack(false, { reason: job });
    }
    const cursor = this.#core.cursor(job);
    if (msg.lastSeq > cursor.highestSeq) {
      if (!rereadEvents && recheckBeforeRefusal(this.#core, session, [msg.jobId], () => this.#result(session, msg, reread, true), "events")) return;
      return ack(false, { reason: "events_missing", expectedSeq: cursor.highestSeq + 1 });
    }

    const patch: Partial<StoredJob> = {
      reportedAttempt: msg.attempt,
      startedAt: job.startedAt ?? msg.startedAt,
      ...(msg.output === undefined ? {} : { output: this.#seal(job.id, msg.output) }),
      ...(msg.error === undefined ? {} : { error: storedError(msg.error) }),
      ...(msg.artifacts === undefined ? {} : { artifacts: msg.artifacts.map((a) => ({ name: a.name, size: a.size, sha256: a.sha256, ...(a.contentType === undefined ? {} : { contentType: a.contentType }) })) }),
    };
    // An output the controller cannot keep ends the job failed, not the controller: refusing
    // the result instead would have the runner resend it forever.
    const problem = msg.output === undefined ? undefined : checkJsonBounds(msg.output, STORED_JSON_BOUNDS);
    if (problem !== undefined) {
      delete patch.output;
      const error = { code: "output_invalid", message: `Cannot store the result of job "${job.id}": ${describeJsonProblem("output", problem)}` };
      this.#warn(session, "output_invalid", "Refused a job output past the controller's bounds", { jobId: job.id, detail: error.message });
      this.#core.finish(job, job.status === "cancelling" ? "cancelled" : "failed", { ...patch, error });
      return ack(true);
    }
    if (job.status === "cancelling") this.#core.finish(job, "cancelled", patch);
    else if (msg.status === "interrupted") {
      const error = msg.error ?? { code: "job_interrupted", message: `Runner "${session.runnerId}" stopped before job "${job.id}" finished` };
      const { reportedAttempt: _r, ...requeuePatch } = patch;
      if (attemptsUsed(job) < job.maxAttempts) this.#core.requeueOrFail(job, error, requeuePatch);
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

/** A runner cuts its own texts (errors to ~16 KiB); these only bound what a hostile one sends. */
const MAX_STORED_TEXT = 32 * 1024;

/** The stored size of an event, near enough for a quota (without serializing it twice). */
function approximateBytes(event: JobEvent): number {
  if (event.type === "step") return 200 + (event.step.name?.length ?? 0) + (event.step.message?.length ?? 0);
  let bytes = 100;
  for (const line of event.lines) bytes += 40 + line.msg.length;
  return bytes;
}

/** The fields of a step the controller keeps, each string clipped: nothing else from the frame. */
function storedStep(step: Msg<"step">["step"]): Msg<"step">["step"] {
  const text = (v: unknown): string | undefined => (typeof v === "string" ? v.slice(0, MAX_STORED_TEXT) : undefined);
  const name = text(step.name);
  const detail = text(step.message);
  return { id: step.id, status: step.status, ...(name === undefined ? {} : { name }), ...(detail === undefined ? {} : { message: detail }) };
}

/** An error from a runner as stored: code and a clipped message, nothing else. */
function storedError(error: { code: string; message: string }): { code: string; message: string } {
  return { code: error.code, message: error.message.slice(0, MAX_STORED_TEXT) };
}

/** Why a heartbeat lease is refused, in the words of docs/protocol.md. */
function refusalOf(job: StoredJob, attempt: number): string {
  if (job.attempt !== attempt || !isTerminal(job.status)) return "stale_attempt";
  return job.status === "cancelled" ? "cancelled" : "finished";
}
