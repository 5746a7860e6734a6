// One claimed meshStack run as the runner sees it (a JobHandle): the runner's step and log calls
// become meshStack status updates (steps upserted by id, messages replaced and kept short, the
// log's tail in the current step's systemMessage), and the result becomes the final status with
// outputs. Everything goes through the run's durable channel; an abort from meshStack cancels
// the plugin at once and nothing more is sent.

import type { JobHandle } from "../connection.ts";
import type { JobResult } from "../../protocol/edge-v1.ts";
import type { JobOffer, LogLine, StepStatus, StepUpdate, WireError } from "../../protocol/edge-v1.ts";
import type { RedactionScope } from "../../log/redact.ts";
import type { Timers } from "../../util/time.ts";
import type { RunChannel } from "./run-channel.ts";
import { finalUpdate, type RunReport } from "./final-status.ts";
import { keepHead, keepTail } from "./short-message.ts";

/** meshStack suggests short messages: a user message is cut here, a system message keeps its tail. */
export const USER_MESSAGE_MAX = 2000;
export const SYSTEM_MESSAGE_MAX = 8000;
const ENDED_BEFORE = "meshStack had already ended the run";

const STEP_STATUS: Record<StepStatus, string> = {
  pending: "PENDING",
  running: "IN_PROGRESS",
  succeeded: "SUCCEEDED",
  failed: "FAILED",
  skipped: "SUCCEEDED",
};

export interface RunHandleOptions {
  job: JobOffer;
  channel: RunChannel;
  report: RunReport;
  /** The run's scope (its token, decrypted values), disposed by the connection when the run's line ends. */
  redaction: RedactionScope;
  timers: Pick<Timers, "now" | "sleep">;
  /** How often a running run's status goes out even when nothing changed (liveness, abort check). */
  statusIntervalMs: number;
  /** How often at most the log tail is sent. */
  logIntervalMs: number;
  /** The runner decided the run's outcome (for the status page). */
  onDecided?(status: string, message?: string): void;
}

export class MeshstackRunHandle implements JobHandle {
  readonly job: JobOffer;
  readonly #o: RunHandleOptions;
  readonly #abort = new AbortController();
  readonly #stopTimers = new AbortController();
  #currentStep: { id: string; displayName: string };
  #logTail = "";
  #logDirty = false;
  #completed = false;

  constructor(options: RunHandleOptions) {
    this.job = options.job;
    this.#o = options;
    this.#currentStep = { ...options.report.mainStep };
    void options.channel.ended.then((end) => {
      if (end.kind === "aborted") this.abort("cancelled: meshStack aborted the run");
      else if (end.kind === "refused" && !this.#completed) this.abort(`cancelled: ${end.reason}`);
      else if (end.kind === "already_ended" && !this.#completed) this.abort("cancelled: the run already ended in meshStack");
    });
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get redaction(): RedactionScope {
    return this.#o.redaction;
  }

  /** meshStack aborted the run (or it can no longer be reported): stop the plugin now. */
  abort(reason: string): void {
    this.#stopTimers.abort();
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  accept(): void {
    void this.#heartbeat();
  }

  reject(error: WireError): void {
    // A claimed run cannot be handed back to meshStack: it fails with the reason.
    void this.complete({ status: "failed", error, startedAt: this.#o.timers.now(), finishedAt: this.#o.timers.now() });
  }

  log(lines: LogLine[]): void {
    if (this.#completed) return;
    const text = lines.map((l) => l.msg).join("\n");
    this.#logTail = keepTail(this.#logTail === "" ? text : `${this.#logTail}\n${text}`, SYSTEM_MESSAGE_MAX);
    this.#logDirty = true;
  }

  step(step: StepUpdate): void {
    if (this.#completed) return;
    const displayName = step.name ?? (step.id === this.#currentStep.id ? this.#currentStep.displayName : step.id);
    // A step past the run's limit is not reported at all (its log stays with the current step).
    if (!this.#o.report.touchStep(step.id, displayName, STEP_STATUS[step.status])) return;
    if (step.status === "running" || step.id !== this.#o.report.mainStep.id) this.#currentStep = { id: step.id, displayName };
    const update: Record<string, unknown> = { id: step.id, displayName, status: STEP_STATUS[step.status] };
    if (step.message !== undefined) update.userMessage = keepHead(step.message, USER_MESSAGE_MAX);
    void this.#o.channel.enqueue("patch", { status: "IN_PROGRESS", steps: [update, ...this.#logStep()] });
  }

  async complete(result: JobResult): Promise<{ accepted: boolean; reason?: string }> {
    if (this.#completed) return { accepted: false, reason: "already completed" };
    this.#completed = true;
    this.#stopTimers.abort();
    const channel = this.#o.channel;
    if (this.#abort.signal.aborted && channel.isEnded) {
      const end = await channel.ended;
      return { accepted: false, reason: end.kind === "refused" ? end.reason : end.kind === "already_ended" ? ENDED_BEFORE : "aborted by meshStack" };
    }
    const update = finalUpdate(this.#o.report, result, { logTail: this.#logTail, currentStep: this.#currentStep });
    const summary = typeof update.body.summary === "string" ? update.body.summary : undefined;
    this.#o.onDecided?.(update.handedOff ? "HANDED_OFF" : String(update.body.status), summary);
    await channel.enqueue("patch", update.body, { final: true, phase: update.handedOff ? "handed_off" : "ending", mainStep: this.#o.report.mainStep.id });
    const end = await channel.ended;
    if (end.kind === "acknowledged" && end.minimal === true) return { accepted: false, reason: end.reported?.summary ?? "meshStack refused the full result" };
    if (end.kind === "acknowledged" || (end.kind === "already_ended" && end.finalMayBeTaken)) return { accepted: true };
    if (end.kind === "already_ended") return { accepted: false, reason: `${ENDED_BEFORE} (it took no final status of the runner)` };
    return { accepted: false, reason: end.kind === "refused" ? end.reason : "aborted by meshStack" };
  }

  /** The log tail as an update of the current step, when it changed since it was last sent. */
  #logStep(): Array<Record<string, unknown>> {
    if (!this.#logDirty) return [];
    this.#logDirty = false;
    return [{ id: this.#currentStep.id, systemMessage: this.#logTail }];
  }

  /** While the run runs: the log tail every logIntervalMs, a status update every statusIntervalMs. */
  async #heartbeat(): Promise<void> {
    const { timers, statusIntervalMs, logIntervalMs } = this.#o;
    let lastSent = timers.now();
    const signal = this.#stopTimers.signal;
    while (!signal.aborted) {
      await timers.sleep(Math.min(logIntervalMs, statusIntervalMs), signal);
      if (signal.aborted || this.#completed) return;
      const due = timers.now() - lastSent >= statusIntervalMs;
      if (!this.#logDirty && !due) continue;
      if (!due && this.#o.channel.pendingCount > 0) continue;
      lastSent = timers.now();
      await this.#o.channel.enqueue("patch", { status: "IN_PROGRESS", steps: this.#logStep() });
    }
  }
}
