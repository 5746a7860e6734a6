// The /status JSON: the snapshot plus what a reader would otherwise compute (ages, readiness),
// with every free-text field passed through the redactor and URLs stripped of credentials.
// The page renders from this same document, on the server and in the browser.

import type { Redactor } from "../log/redact.ts";
import type { ConnectionState } from "../controller/connection.ts";
import { checkReadiness, type NotReadyKind } from "./readiness.ts";
import { publicUrl } from "../config/url.ts";
import type { HeldJobInfo, RecentResultInfo, RunnerSnapshot, RunningJobInfo, WorkerInfo } from "./snapshot.ts";

/** Longest error text shown; a plugin may throw a whole HTTP body. */
const MAX_ERROR_CHARS = 300;

/** The snapshot's own facts are copied as they are; the rest is derived or cleaned below. */
type SnapshotFacts = Pick<RunnerSnapshot, "runnerId" | "group" | "version" | "commit" | "runtime" | "pid" | "now" | "startedAt" | "state" | "stateSince" | "concurrency" | "freeSlots" | "prefetch" | "prefetchOff">;

export interface StatusDocument extends SnapshotFacts {
  uptimeMs: number;
  ready: boolean;
  /** Why the runner is not ready; absent when ready. */
  readyReason?: string;
  /** The named cause of `readyReason` (busy is healthy; unauthorized is not). */
  readyKind?: NotReadyKind;
  /** The controller talked to now (the current one of a `controllerUrl` list), without credentials. */
  controllerUrl: string;
  /** With several controller URLs: which is current (from 0), how many, and how many failovers so far. */
  controllers?: { index: number; count: number; failovers: number };
  /** Started with --insecure; also the page's notice and the edge_runner_insecure gauge. */
  insecure: boolean;
  connection: {
    state: ConnectionState;
    since: number;
    sinceMs: number;
    transport?: string;
    lastError?: string;
    /** True until a session was ever opened: the page says "never connected", not "disconnected". */
    neverConnected: boolean;
    /** How long there has been no session (since the first attempt, or since the last one was lost). */
    downMs?: number;
    reconnects: number;
    failedAttempts: number;
    protocolErrors: number;
  };
  running: Array<RunningJobInfo & { elapsedMs: number }>;
  /** Offered jobs held to start as slots free (local prefetch), oldest first. */
  held: Array<HeldJobInfo & { heldMs: number }>;
  recent: Array<RecentResultInfo & { agoMs: number }>;
  workers: Array<{ id: number; plugin: string; state: WorkerInfo["state"]; jobsServed: number; startedAt: number; upMs: number; memoryBytes?: number }>;
  loops: Array<{ name: string; lastTickAt: number; lastTickSecondsAgo: number; maxSilenceMs: number }>;
}

export function statusDocument(snapshot: RunnerSnapshot, redactor: Redactor): StatusDocument {
  const now = snapshot.now;
  const text = (value: string): string => redactor.text(value);
  const readiness = checkReadiness(snapshot);
  const c = snapshot.connection;
  return {
    runnerId: text(snapshot.runnerId),
    group: text(snapshot.group),
    version: snapshot.version,
    commit: snapshot.commit,
    runtime: snapshot.runtime,
    pid: snapshot.pid,
    now,
    startedAt: snapshot.startedAt,
    uptimeMs: Math.max(0, now - snapshot.startedAt),
    state: snapshot.state,
    stateSince: snapshot.stateSince,
    ready: readiness.ready,
    ...(readiness.ready ? {} : { readyReason: text(readiness.reason), readyKind: readiness.kind }),
    controllerUrl: text(publicUrl(snapshot.controllerUrl)),
    ...(c.controller === undefined || c.controller.count < 2 ? {} : { controllers: { index: c.controller.index, count: c.controller.count, failovers: c.controller.failovers } }),
    insecure: snapshot.insecure === true,
    connection: {
      state: c.state,
      since: c.since,
      sinceMs: Math.max(0, now - c.since),
      ...(c.transport === undefined ? {} : { transport: c.transport }),
      ...(c.lastError === undefined ? {} : { lastError: clip(text(c.lastError)) }),
      neverConnected: c.firstConnectedAt === undefined && c.reconnects === 0 && c.state !== "connected",
      ...(c.state === "connected" ? {} : { downMs: Math.max(0, now - (c.disconnectedSince ?? c.since)) }),
      reconnects: c.reconnects,
      failedAttempts: c.failedAttempts ?? 0,
      protocolErrors: c.protocolErrors,
    },
    concurrency: snapshot.concurrency,
    freeSlots: snapshot.freeSlots,
    prefetch: snapshot.prefetch,
    ...(snapshot.prefetchOff === undefined ? {} : { prefetchOff: snapshot.prefetchOff }),
    running: snapshot.running.map((j) => ({
      jobId: text(j.jobId),
      attempt: j.attempt,
      plugin: text(j.plugin),
      action: text(j.action),
      startedAt: j.startedAt,
      elapsedMs: Math.max(0, now - j.startedAt),
    })),
    held: snapshot.held.map((j) => ({
      jobId: text(j.jobId),
      attempt: j.attempt,
      plugin: text(j.plugin),
      action: text(j.action),
      heldSince: j.heldSince,
      heldMs: Math.max(0, now - j.heldSince),
    })),
    recent: snapshot.recent.map((r) => ({
      jobId: text(r.jobId),
      attempt: r.attempt,
      plugin: text(r.plugin),
      status: r.status,
      ...(r.errorCode === undefined ? {} : { errorCode: clip(text(r.errorCode)) }),
      ...(r.errorMessage === undefined ? {} : { errorMessage: clip(text(r.errorMessage)) }),
      durationMs: r.durationMs,
      finishedAt: r.finishedAt,
      agoMs: Math.max(0, now - r.finishedAt),
    })),
    workers: snapshot.workers.map((w) => ({
      id: w.id,
      plugin: text(w.plugin),
      state: w.state,
      jobsServed: w.jobsServed,
      startedAt: w.startedAt,
      upMs: Math.max(0, now - w.startedAt),
      ...(w.memoryBytes === undefined ? {} : { memoryBytes: w.memoryBytes }),
    })),
    loops: snapshot.loops.map((l) => ({
      name: l.name,
      lastTickAt: l.lastTickAt,
      lastTickSecondsAgo: Math.round(Math.max(0, now - l.lastTickAt) / 100) / 10,
      maxSilenceMs: l.maxSilenceMs,
    })),
  };
}

function clip(value: string): string {
  return value.length <= MAX_ERROR_CHARS ? value : value.slice(0, MAX_ERROR_CHARS - 1) + "…";
}
