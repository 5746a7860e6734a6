// One group-commit batch of the PostgreSQL store, written in ONE transaction: job inserts and
// compare-and-swap updates (guarded by `version`), runner registrations (inserts that lose to a
// row already there), runner changes (only the fields changed) and deletions, job deletions
// (retention; their events go with them) and job events, then a NOTIFY of the changed job ids,
// which PostgreSQL delivers only if the transaction commits. "Durable" = COMMIT returned.

import type { Sql, TransactionSql } from "postgres";
import type { JobEvent } from "../job-logs.ts";
import type { StoredJob, StoredRunner } from "../records.ts";
import { admitEvents, DEFAULT_EVENT_QUOTA, type EventQuota, type EventSizes, type QuotaEvent } from "./pg-event-quota.ts";
import type { SessionRow } from "../store-seam.ts";
import { diffRunner, mergePatch, type RunnerPatch } from "./runner-patch.ts";

/** The channel replicas LISTEN on; a payload is `<replica id>:<job id>,<job id>,…`. */
export const JOBS_CHANNEL = "edge_runner_jobs";
/** Runners registered, changed or deleted, in the same payload form. */
export const RUNNERS_CHANNEL = "edge_runner_runners";
/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7_000;

/** An event for the batch, with the bytes it counts for. */
export type StoredEvent = QuotaEvent;

/** What one turn changed: the last write of each job wins within a batch. */
export class PendingBatch {
  readonly jobs = new Map<string, StoredJob>();
  readonly deletedJobs = new Set<string>();
  /** Runners registered here in this batch (whole rows to insert). */
  readonly newRunners = new Map<string, StoredRunner>();
  /** Changes of known runners: only the fields this replica changed (runner-patch.ts). */
  readonly runnerPatches = new Map<string, RunnerPatch>();
  readonly deletedRunners = new Set<string>();
  readonly events: StoredEvent[] = [];
  /** Edge sessions created (rows to insert) and ended (rows to delete) in this turn. */
  readonly sessions = new Map<string, SessionRow>();
  readonly deletedSessions = new Set<string>();
  /** Jobs another replica changed after this batch's write of them was made: the write must lose. */
  readonly doomed = new Set<string>();

  get empty(): boolean {
    return this.jobs.size === 0 && this.deletedJobs.size === 0 && this.newRunners.size === 0 && this.runnerPatches.size === 0 && this.deletedRunners.size === 0 && this.events.length === 0 && this.sessions.size === 0 && this.deletedSessions.size === 0;
  }

  putJob(job: StoredJob): void {
    this.jobs.set(job.id, job);
  }

  deleteJob(id: string): void {
    this.jobs.delete(id);
    this.deletedJobs.add(id);
  }

  /**
   * `previous` is the runner as this replica held it before the change (undefined: a new
   * registration). A change is kept as the fields it changed, never as the whole record: a whole
   * record made on a stale view would put back what another replica changed meanwhile (a
   * rotated API key). A registration is an insert that loses to a row already there.
   */
  putRunner(runner: StoredRunner, previous: StoredRunner | undefined): void {
    if (previous === undefined || this.newRunners.has(runner.id)) {
      this.newRunners.set(runner.id, runner);
      this.runnerPatches.delete(runner.id);
      return;
    }
    this.runnerPatches.set(runner.id, mergePatch(this.runnerPatches.get(runner.id), diffRunner(previous, runner)));
  }

  putSession(row: SessionRow): void {
    this.deletedSessions.delete(row.id);
    this.sessions.set(row.id, row);
  }

  deleteSession(id: string): void {
    this.sessions.delete(id);
    this.deletedSessions.add(id);
  }

  /** Deleted before this batch's inserts: a runner deregistered and registered again in one batch is the new one. */
  deleteRunner(id: string): void {
    this.runnerPatches.delete(id);
    this.newRunners.delete(id);
    this.deletedRunners.add(id);
  }
}

export interface BatchOutcome {
  /** Jobs whose compare-and-swap lost: another replica changed them first. */
  lost: string[];
  /** New version per job written. */
  versions: Map<string, number>;
  /** The database's event totals after this batch, when it stored or deleted events. */
  eventSizes?: EventSizes;
  /** Runner rows as this batch left them (registered or changed), with their new versions. */
  runners: RunnerRow[];
  /** Jobs with an event this batch did not store: another replica had stored that seq (pg-event-quota.ts dropStored). */
  duplicateEvents?: string[];
  /** Registrations that lost to a row already there, and changes of runners no longer there. */
  lostRunners: string[];
}

/** A runner row: `version` (one sequence for all runners) grows with every write of it. */
export interface RunnerRow {
  version: number;
  doc: StoredRunner;
}

/**
 * Writes `batch` in one transaction. `versionOf(id)` is the version this replica last saw (0 for a
 * job it created). A lost compare-and-swap does not abort the transaction: the rest commits, and
 * the caller reloads the lost jobs (their offers are never sent, see pg-store.ts).
 */
export async function writeBatch(sql: Sql, replicaId: string, batch: PendingBatch, versionOf: (id: string) => number, quota: EventQuota = DEFAULT_EVENT_QUOTA): Promise<BatchOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeOnce(sql, replicaId, batch, versionOf, quota);
    } catch (error) {
      // Replicas writing the same rows may still deadlock in PostgreSQL's eyes (it then aborts one
      // transaction): that batch is written again, a few times, before the store counts as failed.
      const code = (error as { code?: unknown } | null)?.code;
      if (attempt >= 3 || (code !== "40P01" && code !== "40001")) throw error;
    }
  }
}

async function writeOnce(sql: Sql, replicaId: string, batch: PendingBatch, versionOf: (id: string) => number, quota: EventQuota): Promise<BatchOutcome> {
  const inserts: unknown[] = [];
  const updates: Array<{ id: string }> = [];
  for (const job of [...batch.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    // -1 matches no row: a write made on a view another replica's change has since replaced.
    const expected = batch.doomed.has(job.id) ? -1 : versionOf(job.id);
    const row = { id: job.id, grp: job.group, status: job.status, attempt: job.attempt, queue_seq: job.queueSeq, runner_id: job.runnerId ?? null, lease_expires_at: job.leaseExpiresAt ?? null, expected, doc: job };
    (expected === 0 ? inserts : updates).push(row);
  }
  const outcome: BatchOutcome = { lost: [], versions: new Map(), runners: [], lostRunners: [] };
  await sql.begin(async (tx: TransactionSql) => {
    if (batch.deletedJobs.size > 0) {
      await tx.unsafe(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR UPDATE)`, [json(tx, [...batch.deletedJobs])]);
    }
    const written = new Set<string>();
    if (updates.length > 0) {
      // Rows locked in one order (by id) by every replica: two batches touching the same jobs
      // wait for each other instead of deadlocking. NO KEY UPDATE leaves event inserts (which
      // only KEY SHARE-lock their job) free to go on.
      await tx.unsafe(`SELECT 1 FROM jobs WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR NO KEY UPDATE`, [json(tx, updates.map((u) => u.id))]);
    }
    if (inserts.length > 0) {
      const rows = await tx.unsafe<Array<{ id: string }>>(
        `INSERT INTO jobs (id, grp, status, attempt, queue_seq, runner_id, lease_expires_at, version, doc)
         SELECT id, grp, status, attempt, queue_seq, runner_id, lease_expires_at, 1, doc
         FROM jsonb_to_recordset($1::jsonb) AS v(id text, grp text, status text, attempt integer, queue_seq bigint, runner_id text, lease_expires_at bigint, doc jsonb)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [json(tx, inserts)],
      );
      for (const row of rows) {
        written.add(row.id);
        outcome.versions.set(row.id, 1);
      }
    }
    if (updates.length > 0) {
      const rows = await tx.unsafe<Array<{ id: string; version: string }>>(
        `UPDATE jobs SET grp = v.grp, status = v.status, attempt = v.attempt, queue_seq = v.queue_seq, runner_id = v.runner_id,
           lease_expires_at = v.lease_expires_at, doc = v.doc, version = jobs.version + 1
         FROM jsonb_to_recordset($1::jsonb) AS v(id text, grp text, status text, attempt integer, queue_seq bigint, runner_id text, lease_expires_at bigint, expected bigint, doc jsonb)
         WHERE jobs.id = v.id AND jobs.version = v.expected
         RETURNING jobs.id, jobs.version`,
        [json(tx, updates)],
      );
      for (const row of rows) {
        written.add(row.id);
        outcome.versions.set(row.id, Number(row.version));
      }
    }
    for (const id of batch.jobs.keys()) if (!written.has(id)) outcome.lost.push(id);
    await writeRunners(tx, batch, outcome);
    // Events are stored even for a job whose row write lost: they were accepted (and are acked)
    // under the attempt the runner holds; only a job deleted here takes its events with it.
    // The quotas are decided here, against the database's totals (pg-event-quota.ts).
    let events = batch.events.filter((e) => !batch.deletedJobs.has(e.jobId));
    if (events.length > 0 || batch.deletedJobs.size > 0) {
      const { admitted, sizes, duplicates } = await admitEvents(tx, events, [...batch.deletedJobs], quota);
      events = admitted;
      outcome.eventSizes = sizes;
      outcome.duplicateEvents = [...new Set(duplicates.map((e) => e.jobId))];
    }
    if (events.length > 0) {
      await tx.unsafe(
        `INSERT INTO job_events (job_id, seq, attempt, attempt_seq, bytes, truncated, body)
         SELECT job_id, seq, attempt, attempt_seq, bytes, truncated, body
         FROM jsonb_to_recordset($1::jsonb) AS v(job_id text, seq integer, attempt integer, attempt_seq integer, bytes integer, truncated boolean, body jsonb)
         ON CONFLICT (job_id, seq) DO NOTHING`,
        [json(tx, events.map(({ jobId, event, bytes }) => ({ job_id: jobId, seq: event.seq, attempt: event.attempt, attempt_seq: event.attemptSeq, bytes, truncated: event.truncated === true, body: event })))],
      );
    }
    if (batch.deletedSessions.size > 0) {
      await tx.unsafe(`DELETE FROM edge_sessions WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [json(tx, [...batch.deletedSessions])]);
    }
    if (batch.sessions.size > 0) {
      const rows = [...batch.sessions.values()].map((s) => ({
        id: s.id, runner_id: s.runnerId, grp: s.group, replica_id: s.replicaId, advertise_url: s.advertiseUrl, token_hash: s.tokenHash, created_at: s.createdAt, last_seen_at: s.lastSeenAt,
      }));
      await tx.unsafe(
        `INSERT INTO edge_sessions (id, runner_id, grp, replica_id, advertise_url, token_hash, created_at, last_seen_at)
         SELECT id, runner_id, grp, replica_id, advertise_url, token_hash, created_at, last_seen_at
         FROM jsonb_to_recordset($1::jsonb) AS v(id text, runner_id text, grp text, replica_id text, advertise_url text, token_hash text, created_at bigint, last_seen_at bigint)
         ON CONFLICT (id) DO NOTHING`,
        [json(tx, rows)],
      );
    }
    // Jobs whose events changed are named too: another replica the runner moves to needs their seqs.
    const changed = new Set([...written, ...batch.deletedJobs, ...events.map((e) => e.jobId)]);
    for (const payload of notifyPayloads(replicaId, [...changed])) await tx`SELECT pg_notify(${JOBS_CHANNEL}, ${payload})`;
    const runners = [...new Set([...batch.newRunners.keys(), ...batch.runnerPatches.keys(), ...batch.deletedRunners])];
    for (const payload of notifyPayloads(replicaId, runners)) await tx`SELECT pg_notify(${RUNNERS_CHANNEL}, ${payload})`;
  });
  return outcome;
}

/**
 * Deletions first (a runner deregistered and registered again in this batch is the new one), then
 * registrations: ON CONFLICT DO NOTHING, so of two replicas registering one id at once one wins
 * and the other is told (its key is never handed out). Then changes: each merges only its fields
 * into the row as it is now, so a stale view cannot undo another replica's key rotation.
 */
async function writeRunners(tx: TransactionSql, batch: PendingBatch, outcome: BatchOutcome): Promise<void> {
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  if (batch.deletedRunners.size > 0) {
    await tx.unsafe(`DELETE FROM runners WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [json(tx, [...batch.deletedRunners])]);
  }
  const inserts = [...batch.newRunners.values()].sort(byId).map((runner) => ({ id: runner.id, doc: runner }));
  if (inserts.length > 0) {
    const rows = await tx.unsafe<Array<{ version: string; doc: StoredRunner }>>(
      `INSERT INTO runners (id, doc) SELECT id, doc FROM jsonb_to_recordset($1::jsonb) AS v(id text, doc jsonb)
       ON CONFLICT (id) DO NOTHING RETURNING version, doc`,
      [json(tx, inserts)],
    );
    collect(outcome, inserts, rows);
  }
  const patches = [...batch.runnerPatches].map(([id, patch]) => ({ id, set: patch.set, unset: [...patch.unset] })).sort(byId);
  if (patches.length > 0) {
    const rows = await tx.unsafe<Array<{ version: string; doc: StoredRunner }>>(
      `UPDATE runners SET doc = (runners.doc || v.set) - ARRAY(SELECT jsonb_array_elements_text(v.unset)), version = nextval('runner_versions')
       FROM jsonb_to_recordset($1::jsonb) AS v(id text, set jsonb, unset jsonb)
       WHERE runners.id = v.id
       RETURNING runners.version, runners.doc`,
      [json(tx, patches)],
    );
    collect(outcome, patches, rows);
  }
}

function collect(outcome: BatchOutcome, sent: ReadonlyArray<{ id: string }>, rows: ReadonlyArray<{ version: string; doc: StoredRunner }>): void {
  const written = new Set(rows.map((row) => row.doc.id));
  for (const row of rows) outcome.runners.push({ version: Number(row.version), doc: row.doc });
  for (const { id } of sent) if (!written.has(id)) outcome.lostRunners.push(id);
}

/** One jsonb parameter (a whole batch's rows in one value: one round trip per statement). */
function json(tx: TransactionSql, value: unknown): never {
  return tx.json(value as never) as never;
}

/** `<replica>:<id>,<id>…` chunks under the NOTIFY payload limit. */
export function notifyPayloads(replicaId: string, ids: readonly string[]): string[] {
  const payloads: string[] = [];
  let current: string[] = [];
  let size = replicaId.length + 1;
  for (const id of ids) {
    if (current.length > 0 && size + id.length + 1 > MAX_PAYLOAD) {
      payloads.push(`${replicaId}:${current.join(",")}`);
      current = [];
      size = replicaId.length + 1;
    }
    current.push(id);
    size += id.length + 1;
  }
  if (current.length > 0) payloads.push(`${replicaId}:${current.join(",")}`);
  return payloads;
}
