// One run's ordered, durable line to meshStack: ops are persisted (RunOutboxStore) before they
// are sent, sent one at a time in order, and retried with backoff until acknowledged. An answer
// with `runAborted` stops everything for the run at once; nothing more is sent. A 4xx that
// retrying cannot change ends the line: for the run itself (gone, unknown, its token or its
// registration refused) at once; for the final status after one resend in its minimal form.
// meshStack's reason for a refusal is quoted (log, minimal status, outbox, status page) only
// masked with the run's redaction scope, or not at all when that scope may lack a secret of the run.

import type { Logger } from "../../log/logger.ts";
import type { RedactionScope } from "../../log/redact.ts";
import { errorMessage } from "../../errors.ts";
import type { Timers } from "../../util/time.ts";
import { Backoff } from "../../util/backoff.ts";
import { isRefusal, MeshstackCallError, type MeshstackClient } from "./api-client.ts";
import { mergeUpdates, type OutboxOp, type RunOutboxStore, type RunPhase, type RunRecord } from "./outbox.ts";
import { minimalFinal } from "./minimal-final.ts";
import { quotedReason, sensitiveOutputValues } from "./refusal-reason.ts";

/** How a run's line to meshStack ended. */
export type ChannelEnd =
  /**
   * `reported`: the run status and summary of the final update meshStack took (what meshStack now
   * shows); `minimal`: it took that update only in its minimal form (the full one was refused).
   */
  | { kind: "acknowledged"; reported?: { status?: string; summary?: string }; minimal?: true }
  /** meshStack said the run was aborted: stop the work, send nothing more. */
  | { kind: "aborted" }
  /**
   * meshStack answered 409: the run had already ended there. `finalMayBeTaken`: the 409 answered
   * a resend of the final status after an attempt whose outcome is unknown (or one from before a
   * restart), so meshStack may have taken it then; otherwise it took no final status of the runner.
   */
  | { kind: "already_ended"; finalMayBeTaken: boolean }
  /** The run is gone or unknown, its token or registration was refused, or its final status was: reporting is impossible. */
  | { kind: "refused"; reason: string };

/** Answers about the run itself, after which nothing about it can be reported. */
const RUN_REFUSED: Record<number, string> = {
  401: "the run token was not accepted",
  403: "the run token was not accepted",
  404: "meshStack does not know the run",
  410: "the run is gone from meshStack",
};

/** Said instead of meshStack's reason when the run's scope may lack one of the secrets it could echo. */
export const REASON_LEFT_OUT = "meshStack's message left out: this runner does not hold every secret of the run to mask it with";

export interface ChannelDeps {
  client: MeshstackClient;
  store: RunOutboxStore;
  logger: Logger;
  /**
   * The run's redaction scope (its token, the values decrypted for it, what its plugin masked),
   * live until the line ends: meshStack's reasons are masked with it where they come in, so
   * every place they go (a log line, the minimal final status, the outbox, the status page,
   * the runner's own log after the scope ended) holds only the masked text.
   */
  redaction: RedactionScope;
  timers: Pick<Timers, "now" | "sleep">;
  retryMinMs: number;
  retryMaxMs: number;
  /** Aborted whenever meshStack answers again after failures, so waiting retries go at once. */
  recovered(): AbortSignal;
  /** Called with every call's outcome (for the status page and metrics). */
  onCall?(ok: boolean): void;
}

export class RunChannel {
  readonly record: RunRecord;
  readonly #d: ChannelDeps;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #saving: Promise<void> = Promise.resolve();
  #inFlight: number | undefined;
  #sender: Promise<void> | undefined;
  #end: ChannelEnd | undefined;
  readonly #ended: Promise<ChannelEnd>;
  #resolveEnd!: (end: ChannelEnd) => void;
  #drainWaiters: Array<() => void> = [];
  /** Set by secretsComplete(): until then meshStack's reasons are left out, not quoted. */
  #secretsComplete = false;
  /** An attempt to send the final status had an unknown outcome (no answer, a 5xx, a 408/425/429, a restart): it may have been taken. */
  #finalMayHaveLanded = false;

  constructor(record: RunRecord, deps: ChannelDeps) {
    this.record = record;
    this.#d = deps;
    this.#log = deps.logger.child({ component: "meshstack-outbox", runUuid: record.uuid });
    this.#backoff = new Backoff({ minMs: deps.retryMinMs, maxMs: deps.retryMaxMs });
    this.#ended = new Promise((resolve) => (this.#resolveEnd = resolve));
  }

  /** Resolves when the run's last update was acknowledged, or the line ended otherwise. */
  get ended(): Promise<ChannelEnd> {
    return this.#ended;
  }

  get isEnded(): boolean {
    return this.#end !== undefined;
  }

  get pendingCount(): number {
    return this.record.pending.length;
  }

  /**
   * The run's scope now holds every secret of the run the runner can know (its inputs and the
   * implementation's secrets were decrypted into it): meshStack's reasons are quoted, masked.
   * Never called for a run resumed after a restart (the decrypted values are not stored, only
   * what the record holds) nor for one that failed before its inputs were decrypted: a reason
   * that echoed a secret the scope lacks could not be masked, so it is left out.
   */
  secretsComplete(): void {
    this.#secretsComplete = true;
  }

  /** Persists and starts sending whatever the record holds (used after a restart). */
  async resume(): Promise<void> {
    // A final status waiting across a restart may have been sent before it.
    if (this.record.pending.some((op) => op.final === true)) this.#finalMayHaveLanded = true;
    await this.#persist();
    this.#kick();
  }

  /**
   * Queues an op; resolves once it is on disk. A status update not yet sent is merged with the
   * one before it (steps upsert by id, messages replace), so an outage cannot grow the queue.
   */
  async enqueue(kind: OutboxOp["kind"], body: Record<string, unknown>, options: { final?: boolean; phase?: RunPhase; mainStep?: string } = {}): Promise<void> {
    if (this.#end !== undefined) return;
    const pending = this.record.pending;
    const last = pending.at(-1);
    if (kind === "patch" && last !== undefined && last.kind === "patch" && last.final !== true && last.seq !== this.#inFlight) {
      last.body = mergeUpdates(last.body, body);
      if (options.final === true) last.final = true;
      if (options.mainStep !== undefined) last.mainStep = options.mainStep;
    } else {
      pending.push({ seq: this.record.nextSeq++, kind, body, ...(options.final === true ? { final: true } : {}), ...(options.mainStep === undefined ? {} : { mainStep: options.mainStep }) });
    }
    if (options.phase !== undefined) this.record.phase = options.phase;
    await this.#persist();
    this.#kick();
  }

  /** Resolves once nothing is pending (or the line ended), or `signal` aborts. */
  idle(signal: AbortSignal): Promise<void> {
    if (this.record.pending.length === 0 || this.#end !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#drainWaiters.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Stops sending (the process is going away); what is on disk goes out after a restart. */
  stop(): void {
    this.#stop.abort();
  }

  #persist(): Promise<void> {
    const record = this.record;
    this.#saving = this.#saving.then(async () => {
      if (this.#end !== undefined) return;
      try {
        await this.#d.store.save(record);
      } catch (error) {
        this.#log.error(`Cannot write the meshStack outbox for run "${record.uuid}": ${errorMessage(error)}`);
      }
    });
    return this.#saving;
  }

  #kick(): void {
    this.#sender ??= this.#send().finally(() => {
      this.#sender = undefined;
      if (this.record.pending.length > 0 && this.#end === undefined && !this.#stop.signal.aborted) this.#kick();
    });
  }

  async #send(): Promise<void> {
    const { client } = this.#d;
    while (this.#end === undefined && !this.#stop.signal.aborted) {
      const op = this.record.pending[0];
      if (op === undefined) break;
      this.#inFlight = op.seq;
      try {
        if (op.kind === "register") {
          await client.register(this.record.registerUrl, this.record.runToken, op.body);
          this.#d.onCall?.(true);
        } else {
          const answer = await client.patch(this.record.updateUrl, this.record.runToken, op.body);
          this.#d.onCall?.(true);
          if (answer.runAborted) return this.#finish({ kind: "aborted" });
          if (answer.kind === "ended") return this.#alreadyEnded(op);
        }
        this.#backoff.reset();
        this.record.pending.shift();
        if (op.final === true) return this.#finish({ kind: "acknowledged", reported: reportedOf(op.body), ...(op.minimal === true ? { minimal: true as const } : {}) });
        await this.#persist();
      } catch (error) {
        const status = error instanceof MeshstackCallError ? error.status : 0;
        const detail = error instanceof MeshstackCallError ? error.detail : undefined;
        this.#d.onCall?.(false);
        if (op.final === true && !isRefusal(status)) this.#finalMayHaveLanded = true;
        const what = op.kind === "register" ? "source registration" : op.final === true ? "final status" : "status update";
        const uuid = this.record.uuid;
        const said = this.#said(detail, op.body);
        if (isRefusal(status)) {
          const why = `HTTP ${status}${said}`;
          // The run itself is refused (gone, unknown, its token), or its registration is: nothing
          // about it can be reported, so its work stops here instead of being retried for ever.
          const about = RUN_REFUSED[status];
          if (about !== undefined || op.kind === "register") {
            const reason = `meshStack refused the ${what} of run "${uuid}" with ${why}${about === undefined ? "" : ` (${about})`}`;
            this.#log.error(`Giving up on run "${uuid}": ${reason}; the run is stopped on this runner`);
            return this.#finish({ kind: "refused", reason });
          }
          // The full final status is refused: sent once more in its minimal form, then given up.
          if (op.final === true && op.minimal !== true) {
            const minimal = minimalFinal(op.body, why, op.mainStep);
            this.#log.error(`meshStack refused the final status of run "${uuid}" with ${why}; sending it once more without outputs${minimal.status === undefined ? "" : `, as ${minimal.status}`}`);
            op.body = minimal.body;
            op.minimal = true;
            await this.#persist();
            continue;
          }
          if (op.final === true) {
            const reason = `meshStack refused the minimal final status of run "${uuid}" too, with ${why}`;
            this.#log.error(`Giving up on run "${uuid}": ${reason}; its outcome is not reported`);
            return this.#finish({ kind: "refused", reason });
          }
          // A status update meshStack will never take: dropped, the run's later ones still go.
          this.#log.error(`meshStack refused a status update of run "${uuid}" with ${why}; dropping it`);
          this.record.pending.shift();
          await this.#persist();
          continue;
        }
        const wait = this.#backoff.next(error instanceof MeshstackCallError ? error.retryAfterMs : undefined);
        this.#log.warn(`Cannot reach meshStack for run "${uuid}" (${errorMessage(error)}${said}); retrying in ${wait} ms`);
        await this.#d.timers.sleep(wait, AbortSignal.any([this.#stop.signal, this.#d.recovered()]));
      } finally {
        this.#inFlight = undefined;
      }
    }
    if (this.record.pending.length === 0) this.#wakeIdle();
  }

  /**
   * meshStack's reason as quoted after "HTTP <status>": masked with the run's scope, which first
   * takes the sensitive outputs of the update refused (after a restart the scope knows them only
   * from there), then cut short; left out while the scope may lack a secret of the run.
   */
  #said(detail: string | undefined, body: Record<string, unknown>): string {
    if (detail === undefined) return "";
    if (!this.#secretsComplete) return ` (${REASON_LEFT_OUT})`;
    const scope = this.#d.redaction;
    for (const value of sensitiveOutputValues(body)) scope.add(value);
    return `: ${quotedReason(detail, scope)}`;
  }

  /** meshStack answered 409 to `op`: the run had ended there before it. */
  #alreadyEnded(op: OutboxOp): Promise<void> {
    const finalMayBeTaken = op.final === true && this.#finalMayHaveLanded;
    if (!finalMayBeTaken) {
      const what = op.final === true ? "its final status" : "a status update";
      this.#log.warn(`meshStack answered 409 to ${what} of run "${this.record.uuid}": it had already ended the run (it shows the status it ended it with) and did not take the runner's result; nothing more is sent`);
    }
    return this.#finish({ kind: "already_ended", finalMayBeTaken });
  }

  async #finish(end: ChannelEnd): Promise<void> {
    this.record.pending = [];
    await this.#saving;
    this.#end = end;
    try {
      await this.#d.store.remove(this.record.uuid);
    } catch (error) {
      this.#log.error(`Cannot remove the meshStack outbox file of run "${this.record.uuid}": ${errorMessage(error)}`);
    }
    this.#wakeIdle();
    this.#resolveEnd(end);
  }

  #wakeIdle(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * The run status and summary a final update reports, read from its body: it may have waited in
 * the outbox across a restart, and a minimal one was written here. Without a summary (an async
 * hand-off) the first step's message stands in.
 */
function reportedOf(body: Record<string, unknown>): { status?: string; summary?: string } {
  const first = Array.isArray(body.steps) ? (body.steps[0] as { userMessage?: unknown } | undefined) : undefined;
  const summary = typeof body.summary === "string" ? body.summary : typeof first?.userMessage === "string" ? first.userMessage : undefined;
  return { ...(typeof body.status === "string" ? { status: body.status } : {}), ...(summary === undefined ? {} : { summary }) };
}
