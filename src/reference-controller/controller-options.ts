// What a reference controller is opened with: `edge-runner controller`/`dev` build it from the
// option table (server-config.ts), tests and embedders pass it to `ReferenceController.open()`.

import type { Logger } from "../log/logger.ts";
import type { Clock, Timers } from "../util/time.ts";
import type { GroupCommitOptions } from "./group-commit.ts";

export interface ReferenceControllerOptions {
  /** State lives in `<dataDir>/controller/`. */
  dataDir: string;
  hostname?: string;
  /** Host names answered besides loopback names and IP addresses when bound to loopback. */
  allowedHosts?: readonly string[];
  /** PEM certificate chain and key: serve HTTPS/WSS (runners refuse plain http off loopback). */
  tls?: { cert: string; key: string };
  /** 0 (the default) picks a free port. */
  port?: number;
  leaseTtlMs?: number;
  heartbeatIntervalMs?: number;
  maxAttempts?: number;
  /** Longest hold of a long-poll receive. */
  pollWaitMs?: number;
  /** Fixed admin token; otherwise read from (or created in) `adminTokenFile`. */
  adminToken?: string;
  /** Defaults to `<dataDir>/controller/admin-token`. */
  adminTokenFile?: string;
  logger?: Logger;
  clock?: Clock;
  timer?: Pick<Timers, "setTimeout" | "clearTimeout">;
  /** Longest pause of the lease sweep loop. */
  sweepIntervalMs?: number;
  /** False: no sweep loop; tests call `sweep()` after moving their clock. */
  autoSweep?: boolean;
  /** Journal lines before compaction into a snapshot. */
  compactAfter?: number;
  /** Finished jobs and their logs are pruned this long after they finished (default 7 days). */
  jobRetentionMs?: number;
  /** After a start or a pause, no lease expires before this long (default leaseTtlMs + 60 s). */
  leaseGraceMs?: number;
  /** Monotonic clock of the pause detector (tests move it to fake a SIGSTOP). */
  monotonic?: () => number;
  /** Bytes of log and step events one job may store before the rest is cut (default 64 MiB). */
  jobLogMaxBytes?: number;
  /** Bytes the event journal may hold in all (default 4 GiB). */
  eventJournalMaxBytes?: number;
  /** Largest artifact a runner may upload (default 100 MiB). */
  artifactMaxBytes?: number;
  /** How changes are batched and fsync'd; tests inject `SYNCHRONOUS` or a fake fsync. */
  commit?: GroupCommitOptions;
  /**
   * Called once when the store can be written again after it failed. Memory may be ahead of the
   * disk then, so the only safe way on is a restart that replays the disk: `edge-runner
   * controller` exits (75) for its service manager to restart it. Probed every `spaceProbeMs` (5 s).
   */
  onStoreWritable?: () => void;
  spaceProbeMs?: number;
  /**
   * postgres://user@host:port/db: state, job events and runners live in PostgreSQL instead of the
   * embedded journal (the driver is loaded only then). Needs `ReferenceController.open()`/`start()`.
   */
  storeUrl?: string;
  /**
   * PostgreSQL replicas: the URL the other replicas reach this one at, to forward long-poll calls
   * of its sessions (default: its own listen URL once it listens).
   */
  advertiseUrl?: string;
  /** The database password (from `storePasswordFile`; never in the URL). */
  storePassword?: string;
  /** How often the PostgreSQL store checks an idle connection (default 2 s). */
  storePingMs?: number;
  /**
   * The key that seals secrets and sensitive outputs at rest (default `<dataDir>/controller/secrets.key`,
   * created when missing). Replicas on one database need the same one: a Secret mounted on each.
   */
  secretsKeyFile?: string;
}

/** The largest artifact a runner may upload (default 100 MiB). */
export function artifactMaxBytesOf(options: ReferenceControllerOptions): number {
  return options.artifactMaxBytes ?? 100 * 1024 * 1024;
}
