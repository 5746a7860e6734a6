// What the meshStack adapter has been doing, for the status page, /status and /metrics: the last
// successful claim poll (meshStack's own liveness signal for a runner), claims by outcome, login
// and status-call failures, the runs being worked on with their meshStack uuid and workspace, and
// recent results. Plain state; the status section renders it.

import type { ChannelEnd } from "./run-channel.ts";
import type { RunRecord } from "./outbox.ts";
import type { MeshstackRun } from "./run-document.ts";

export type ClaimOutcome = "claimed" | "none" | "conflict" | "failed";

export interface MeshstackRunInfo {
  runUuid: string;
  workspace: string;
  type: string;
  behavior: string;
  claimedAt: number;
}

export interface MeshstackResultInfo {
  runUuid: string;
  workspace: string;
  type: string;
  /**
   * SUCCEEDED, FAILED, ABORTED, HANDED_OFF (async), UNREPORTED (meshStack refused the run token)
   * or ALREADY_ENDED (meshStack had ended the run and took no final status of the runner).
   */
  status: string;
  message?: string;
  finishedAt: number;
}

export interface MeshstackActivitySnapshot {
  lastClaimPollAt?: number;
  lastClaimAt?: number;
  lastClaimError?: { at: number; message: string };
  claims: Record<ClaimOutcome, number>;
  statusCalls: { ok: number; failed: number };
  running: MeshstackRunInfo[];
  recent: MeshstackResultInfo[];
  /** Runs whose updates are not all acknowledged yet. */
  outboxRuns: number;
  recoveredRuns: number;
  /** Outbox files found at start-up that could not be read or opened (another key, corrupt): their runs are not reported. */
  unreadable: Array<{ file: string; reason: string }>;
}

const RECENT = 20;
/** How many unreadable outbox files are listed (all are counted in the log). */
const UNREADABLE = 20;

export class MeshstackActivity {
  readonly #now: () => number;
  readonly #running = new Map<string, MeshstackRunInfo>();
  readonly #recent: MeshstackResultInfo[] = [];
  readonly #outbox = new Set<string>();
  readonly #claims: Record<ClaimOutcome, number> = { claimed: 0, none: 0, conflict: 0, failed: 0 };
  readonly #calls = { ok: 0, failed: 0 };
  #lastPoll: number | undefined;
  #lastClaim: number | undefined;
  #lastClaimError: { at: number; message: string } | undefined;
  #recovered = 0;
  readonly #unreadable: Array<{ file: string; reason: string }> = [];
  /** Final run status by run, set when the runner decides it (before meshStack acknowledges it). */
  readonly #decided = new Map<string, { status: string; message?: string }>();
  /** Workspace and type of runs resumed from the outbox after a restart (not listed as running). */
  readonly #resumed = new Map<string, { workspace: string; type: string }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  claimPolled(outcome: Exclude<ClaimOutcome, "failed">): void {
    this.#claims[outcome]++;
    this.#lastPoll = this.#now();
    if (outcome === "claimed") this.#lastClaim = this.#lastPoll;
  }

  claimFailed(message: string): void {
    this.#claims.failed++;
    this.#lastClaimError = { at: this.#now(), message: message.slice(0, 500) };
  }

  statusCall(ok: boolean): void {
    if (ok) this.#calls.ok++;
    else this.#calls.failed++;
  }

  claimed(run: MeshstackRun): void {
    this.#outbox.add(run.uuid);
    this.#running.set(run.uuid, { runUuid: run.uuid, workspace: run.workspace, type: run.implementation.type, behavior: run.behavior, claimedAt: this.#now() });
  }

  recovered(record: RunRecord): void {
    this.#recovered++;
    this.#outbox.add(record.uuid);
    this.#resumed.set(record.uuid, { workspace: record.workspace, type: record.implementationType });
  }

  outboxUnreadable(file: string, reason: string): void {
    if (this.#unreadable.length < UNREADABLE) this.#unreadable.push({ file, reason: reason.slice(0, 500) });
  }

  /** The runner decided the run's outcome (the update may still be on its way). */
  finished(runUuid: string, status: string, message?: string): void {
    this.#decided.set(runUuid, message === undefined ? { status } : { status, message: message.slice(0, 500) });
  }

  outboxEnded(runUuid: string, end: ChannelEnd): void {
    this.#outbox.delete(runUuid);
    const info = this.#running.get(runUuid) ?? this.#resumed.get(runUuid);
    this.#running.delete(runUuid);
    this.#resumed.delete(runUuid);
    const decided = this.#decided.get(runUuid);
    this.#decided.delete(runUuid);
    // What meshStack now shows: the final update it took (a minimal one replaced the runner's
    // decision; one that waited in the outbox across a restart has no decision in this process).
    const reported = end.kind === "acknowledged" ? end.reported : undefined;
    const minimal = end.kind === "acknowledged" && end.minimal === true;
    // meshStack ended the run before any final status of the runner reached it: what it shows is its own.
    const notTaken = end.kind === "already_ended" && !end.finalMayBeTaken;
    const status =
      end.kind === "aborted" ? "ABORTED"
      : end.kind === "refused" ? "UNREPORTED"
      : notTaken ? "ALREADY_ENDED"
      : ((minimal ? reported?.status : undefined) ?? decided?.status ?? reported?.status ?? "REPORTED");
    const message =
      end.kind === "refused" ? end.reason
      : notTaken ? `meshStack had already ended the run and did not take the runner's result${decided === undefined ? "" : ` (${decided.status}${decided.message === undefined ? "" : `: ${decided.message}`})`}`.slice(0, 500)
      : minimal ? reported?.summary : (decided?.message ?? reported?.summary);
    this.#recent.unshift({
      runUuid,
      workspace: info?.workspace ?? "",
      type: info?.type ?? "",
      status,
      ...(message === undefined ? {} : { message }),
      finishedAt: this.#now(),
    });
    this.#recent.length = Math.min(this.#recent.length, RECENT);
  }

  snapshot(): MeshstackActivitySnapshot {
    const out: MeshstackActivitySnapshot = {
      claims: { ...this.#claims },
      statusCalls: { ...this.#calls },
      running: [...this.#running.values()].map((r) => ({ ...r })),
      recent: this.#recent.map((r) => ({ ...r })),
      outboxRuns: this.#outbox.size,
      recoveredRuns: this.#recovered,
      unreadable: this.#unreadable.map((u) => ({ ...u })),
    };
    if (this.#lastPoll !== undefined) out.lastClaimPollAt = this.#lastPoll;
    if (this.#lastClaim !== undefined) out.lastClaimAt = this.#lastClaim;
    if (this.#lastClaimError !== undefined) out.lastClaimError = { ...this.#lastClaimError };
    return out;
  }
}
