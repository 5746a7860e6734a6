// What the controller stores: jobs, runners, and the journal records that change them. Every
// record is a full upsert, so replaying a record twice (after a crash mid-compaction) is harmless.

import type { ArtifactRecord, WireError } from "../protocol/edge-v1.ts";
import type { RunnerPublicJwk } from "../secrets/key-ring.ts";
import { hideSensitiveOutputs } from "../secrets/sensitive-outputs.ts";
import type { JobState } from "./job-state.ts";

export interface StoredJob {
  id: string;
  group: string;
  plugin: string;
  action: string;
  input: unknown;
  status: JobState;
  attempt: number;
  maxAttempts: number;
  runnerId?: string;
  leaseExpiresAt?: number;
  submittedAt: number;
  startedAt?: number;
  finishedAt?: number;
  output?: unknown;
  error?: WireError;
  /** Artifacts the accepted result named (bytes in the artifact store). */
  artifacts?: ArtifactRecord[];
  timeoutMs?: number;
  /** Secret references the job may resolve at run time (names only; values stay in the store). */
  secrets?: string[];
  /** FIFO position in its group's queue; a re-queued job keeps it and so goes first again. */
  queueSeq: number;
  /** Leases the runner gave back unstarted (`release`): not counted toward maxAttempts. */
  releasedLeases?: number;
  /** The attempt whose `result` was accepted, so a resent result is acked again, not refused. */
  reportedAttempt?: number;
  /**
   * The runner whose lease of `attempt` expired while the job waits to be leased again: a message
   * from it about that attempt takes the lease back (docs/protocol.md, "Fencing").
   */
  lapsedRunnerId?: string;
  /** `job approve|reject`: what a manual step waits for (job-callbacks.ts). */
  approval?: { decision: "approved" | "rejected"; at: number; comment?: string };
  /** The final result an async pipeline reported with the job's callback token (job-callbacks.ts). */
  callbackResult?: { status: "succeeded" | "failed"; at: number; output?: unknown; error?: { code: string; message: string } };
}

/** Leases that count toward maxAttempts: every lease but those given back unstarted. */
export function attemptsUsed(job: StoredJob): number {
  return job.attempt - (job.releasedLeases ?? 0);
}

export interface StoredRunner {
  id: string;
  group: string;
  /** SHA-256 (hex) of the API key; the key itself is shown once and never stored. */
  apiKeyHash: string;
  publicKey?: string;
  /** The runner's encryption keys (RSA JWKs, current first), as it last told them. */
  encryptionKeys?: RunnerPublicJwk[];
  registeredAt: number;
  lastSeenAt?: number;
}

export type JournalRecord =
  | { t: "job"; job: StoredJob }
  | { t: "runner"; runner: StoredRunner }
  | { t: "runner_deleted"; id: string };

export interface Snapshot {
  v: 1;
  jobs: StoredJob[];
  runners: StoredRunner[];
}

/** The job as the admin API shows it (internal bookkeeping fields removed). */
export type JobJson = Omit<StoredJob, "queueSeq" | "reportedAttempt" | "lapsedRunnerId">;

export function jobJson(job: StoredJob): JobJson {
  const { queueSeq: _q, reportedAttempt: _r, lapsedRunnerId: _l, ...rest } = job;
  // Sensitive outputs are stored sealed and shown only as {"$sensitive": true}.
  return rest.output === undefined ? rest : { ...rest, output: hideSensitiveOutputs(rest.output) };
}
