// One leased job as the edge adapter tracks it: the handle the runner uses, and an outbox of
// everything not yet acknowledged (log/step events by seq, then the result), so that a lost
// connection loses nothing: a new session replays the outbox in order. A plugin can log and
// report steps faster than a controller takes them, for as long as it is away: past
// MAX_UNACKED_LOG_CHARS log lines are dropped, counted, and said in the job's log (one line naming
// how many) once acknowledgements make room, before a step, and before the result; a step update
// is held instead (the latest of each step, MAX_HELD_STEPS of them: src/protocol/held-steps.ts) and
// sent once there is room.

import type { JobHandle } from "../connection.ts";
import { message, type JobOffer, type JobResult, type LogLine, type RunnerMessage, type StepUpdate, type WireError } from "../../protocol/edge-v1.ts";
import { HeldSteps, stepChars } from "../../protocol/held-steps.ts";
import { logLineChars, MAX_UNACKED_LOG_CHARS } from "../../protocol/limits.ts";

type EventMessage = Extract<RunnerMessage, { type: "log" | "step" }>;
type ResultMessage = Extract<RunnerMessage, { type: "result" }>;

export interface CompleteAnswer {
  accepted: boolean;
  reason?: string;
}

export interface JobOutboxOptions {
  /** The clock of the dropped-lines line. */
  now?: () => number;
  /** Lines dropped because MAX_UNACKED_LOG_CHARS were waiting (the runner counts them). */
  onDropped?: (lines: number) => void;
  /** The result was handed to the connection and waits for its answer (result-spool.ts). */
  onResult?: (job: JobOutbox) => void;
}

export class JobOutbox implements JobHandle {
  readonly job: JobOffer;
  readonly #abort = new AbortController();
  /** Sends on the current session; false when there is none (the messages are dropped). */
  readonly #send: (messages: RunnerMessage[]) => boolean | void;
  readonly #onDone: (job: JobOutbox) => void;
  #seq = 0;
  #events: EventMessage[] = [];
  /** Characters of the log lines and steps in #events (eventChars()). */
  #eventChars = 0;
  /** Lines dropped and not yet said in the log, and step updates waiting for room (the latest of each step). */
  readonly #held = new HeldSteps();
  readonly #now: () => number;
  readonly #onDropped: ((lines: number) => void) | undefined;
  readonly #onResult: ((job: JobOutbox) => void) | undefined;
  #result: ResultMessage | undefined;
  /** Heartbeats since the result (or release) was last sent without an answer (see resendOverdue()). */
  #unansweredBeats = 0;
  #answer: ((answer: CompleteAnswer) => void) | undefined;
  #done = false;
  #lost: string | undefined;
  /**
   * A `release` the controller has not yet confirmed (releaseAnswered()): sent again first thing
   * on the next session, and after a whole heartbeat interval unanswered (resendOverdue()).
   */
  #release: RunnerMessage | undefined;
  /** The waiting release went to a controller that does not take jobs back, as a reject (pending(false)). */
  #releaseRejected = false;

  constructor(job: JobOffer, send: (messages: RunnerMessage[]) => boolean | void, onDone: (job: JobOutbox) => void, options: JobOutboxOptions = {}) {
    this.job = job;
    this.#send = send;
    this.#onDone = onDone;
    this.#now = options.now ?? Date.now;
    this.#onDropped = options.onDropped;
    this.#onResult = options.onResult;
  }

  /**
   * A result a previous process of this runner saved unanswered (result-spool.ts), with the events
   * before it: sent on the next session and finished by its answer, like any other.
   */
  static restore(job: JobOffer, messages: RunnerMessage[], send: (messages: RunnerMessage[]) => boolean | void, onDone: (job: JobOutbox) => void, options: JobOutboxOptions = {}): JobOutbox {
    const outbox = new JobOutbox(job, send, onDone, options);
    outbox.#events = messages.filter((m): m is EventMessage => m.type === "log" || m.type === "step");
    outbox.#result = messages.find((m): m is ResultMessage => m.type === "result");
    outbox.#seq = outbox.#result?.lastSeq ?? 0;
    for (const event of outbox.#events) outbox.#eventChars += eventChars(event);
    outbox.#answer = () => undefined;
    return outbox;
  }

  get key(): string {
    return `${this.job.id}#${this.job.attempt}`;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** True while the lease should be heartbeated: not yet acknowledged and not lost. */
  get holdsLease(): boolean {
    return !this.#done && this.#lost === undefined && this.#release === undefined;
  }

  get done(): boolean {
    return this.#done;
  }

  accept(): void {
    this.#send([message({ type: "accept", jobId: this.job.id, attempt: this.job.attempt })]);
  }

  reject(error: WireError): void {
    this.#send([message({ type: "reject", jobId: this.job.id, attempt: this.job.attempt, error })]);
    this.#finish({ accepted: false, reason: "rejected" });
  }

  /**
   * Gives the job back unstarted; done once the controller confirms it (releaseAnswered()), not
   * when it is handed to a session: a session can die with it unsent or unread (a half-open
   * socket takes it; the WebSocket drops sends while not open), and a release never heard of
   * lets the lease lapse with the attempt used.
   */
  release(): void {
    if (this.#done || this.#release !== undefined) return;
    if (this.#lost !== undefined) return this.#finish({ accepted: false, reason: this.#lost });
    this.#release = message({ type: "release", jobId: this.job.id, attempt: this.job.attempt });
    this.#send(this.#releaseMessages());
  }

  /** True while a release waits for the controller's confirmation. */
  get releasing(): boolean {
    return this.#release !== undefined && !this.#done;
  }

  /**
   * The controller answered a heartbeat naming this lease after the release. A session's
   * messages are handled in order, so the heartbeat sent right behind the release is answered
   * after it: `ok: false` (the lease is not this runner's any more) confirms it. `ok: true` is an
   * earlier heartbeat's answer, or a release the controller did not handle: resendOverdue() sends
   * it again.
   */
  releaseAnswered(ok: boolean): void {
    if (!ok && this.releasing) this.#finish({ accepted: false, reason: "released" });
  }

  /** The release, and a heartbeat naming only this lease, whose answer confirms it (releaseAnswered()). */
  #releaseMessages(): RunnerMessage[] {
    if (this.#release === undefined) return [];
    return [this.#release, message({ type: "heartbeat", leases: [{ jobId: this.job.id, attempt: this.job.attempt }] })];
  }

  log(lines: LogLine[]): void {
    if (lines.length === 0 || this.#lost !== undefined) return;
    let chars = 0;
    for (const line of lines) chars += logLineChars(line);
    if (this.#eventChars + chars > MAX_UNACKED_LOG_CHARS) {
      this.#held.dropLines(lines.length);
      this.#onDropped?.(lines.length);
      return;
    }
    this.#flushHeld();
    this.#pushLines(lines);
  }

  step(step: StepUpdate): void {
    if (this.#lost !== undefined) return;
    if (this.#eventChars + stepChars(step) > MAX_UNACKED_LOG_CHARS) return this.#held.hold(step);
    this.#flushHeld();
    this.#pushStep(step);
  }

  complete(result: JobResult): Promise<CompleteAnswer> {
    if (this.#lost !== undefined) {
      // The controller already gave this attempt away; reporting it would only be refused.
      this.#finish({ accepted: false, reason: this.#lost });
      return Promise.resolve({ accepted: false, reason: this.#lost });
    }
    const answer = new Promise<CompleteAnswer>((resolve) => (this.#answer = resolve));
    this.#flushHeld();
    const { status, output, error, artifacts, startedAt, finishedAt } = result;
    const body: ResultMessage = message({ type: "result", jobId: this.job.id, attempt: this.job.attempt, lastSeq: this.#seq, status, startedAt, finishedAt });
    if (output !== undefined) body.output = output;
    if (error !== undefined) body.error = error;
    // Artifacts were uploaded before the result (EDGE_PATHS.artifact); the result names them with their digests.
    if (artifacts !== undefined && artifacts.length > 0) body.artifacts = artifacts;
    this.#result = body;
    this.#send([body]);
    this.#onResult?.(this);
    return answer;
  }

  // ---- called by the connection ----

  /**
   * Everything unacknowledged, in order, for sending again (a new session, events_missing). A
   * release waiting for a session whose controller does not take jobs back (`releases` false: it
   * would ignore it, and the lease would lapse with the attempt used) goes as a reject: back in
   * the queue at once, with the attempt used.
   */
  pending(releases = true): RunnerMessage[] {
    this.#unansweredBeats = 0;
    if (this.#release !== undefined && !releases) {
      this.#releaseRejected = true;
      const error = { code: "runner_draining", message: "The runner gave back a job it never started; this controller does not take jobs back (release)" };
      return [message({ type: "reject", jobId: this.job.id, attempt: this.job.attempt, error })];
    }
    if (this.#release !== undefined) return this.#releaseMessages();
    return this.#result === undefined ? [...this.#events] : [...this.#events, this.#result];
  }

  /** The result and the events before it while the result waits for its answer; undefined otherwise. */
  unanswered(): RunnerMessage[] | undefined {
    return this.#result === undefined || this.#done ? undefined : [...this.#events, this.#result];
  }

  /**
   * A new session was handed `pending()`: a release that went as a reject is done now (a reject
   * is answered by nothing); one that went as a release waits for releaseAnswered().
   */
  replayed(): void {
    if (this.#releaseRejected) this.#finish({ accepted: false, reason: "released" });
  }

  /**
   * Called at each heartbeat: the result (with the events before it) once more when a whole
   * heartbeat interval passed without its result_ack. A controller that could not write it (a
   * replica whose view of the job was stale) sends no answer and expects it again; an answer lost
   * any other way is covered too. The controller acknowledges a result it already has again.
   */
  resendOverdue(): RunnerMessage[] {
    if (this.releasing) {
      if (++this.#unansweredBeats < 2) return [];
      this.#unansweredBeats = 0;
      return this.#releaseMessages();
    }
    if (this.#result === undefined || this.#done) return [];
    if (++this.#unansweredBeats < 2) return [];
    this.#unansweredBeats = 0;
    return this.pending();
  }

  acked(seq: number): void {
    if (this.#events.length > 0 && this.#events[0]!.seq <= seq) {
      this.#events = this.#events.filter((event) => {
        if (event.seq > seq) return true;
        this.#eventChars -= eventChars(event);
        return false;
      });
    }
  }

  /**
   * `wait`: the controller asks for events from `expectedSeq` on, which it acknowledged already
   * (this outbox no longer holds them): resending at once would only be refused again, in a loop
   * as fast as the connection goes. The result stays for resendOverdue(), by when a replica whose
   * view was behind may have caught up.
   */
  resultAnswered(accepted: boolean, reason: string | undefined, expectedSeq?: number): "resend" | "wait" | "done" {
    if (!accepted && reason === "events_missing") {
      const first = this.#events[0]?.seq;
      return expectedSeq === undefined || (first !== undefined && first <= expectedSeq) ? "resend" : "wait";
    }
    this.#finish(reason === undefined ? { accepted } : { accepted, reason });
    return "done";
  }

  /** The controller cancelled the job, or its lease is gone: abort the plugin. */
  abort(reason: string, leaseLost: boolean): void {
    if (leaseLost) this.#lost = reason;
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
    if (leaseLost && this.#answer !== undefined) this.#finish({ accepted: false, reason });
  }

  /**
   * What waited for room, now (room came, or the result follows): the count of what was dropped
   * (so where lines are missing is known), then the held steps.
   */
  #flushHeld(): void {
    const { dropped, steps } = this.#held.drain(`the controller did not take them as fast as the job wrote them (at most ${MAX_UNACKED_LOG_CHARS} characters wait for it)`);
    if (dropped !== undefined) this.#pushLines([{ ts: this.#now(), level: "warn", msg: dropped }]);
    for (const step of steps) this.#pushStep(step);
  }

  #pushStep(step: StepUpdate): void {
    this.#eventChars += stepChars(step);
    this.#push(message({ type: "step", jobId: this.job.id, attempt: this.job.attempt, seq: ++this.#seq, step }));
  }

  #pushLines(lines: LogLine[]): void {
    for (const line of lines) this.#eventChars += logLineChars(line);
    this.#push(message({ type: "log", jobId: this.job.id, attempt: this.job.attempt, seq: ++this.#seq, lines }));
  }

  #push(event: EventMessage): void {
    this.#events.push(event);
    this.#send([event]);
  }

  #finish(answer: CompleteAnswer): void {
    if (this.#done) return;
    this.#done = true;
    this.#events = [];
    this.#eventChars = 0;
    this.#held.forgetSteps();
    this.#result = undefined;
    this.#answer?.(answer);
    this.#onDone(this);
  }
}

function eventChars(event: EventMessage): number {
  if (event.type === "step") return stepChars(event.step);
  let chars = 0;
  for (const line of event.lines) chars += logLineChars(line);
  return chars;
}
