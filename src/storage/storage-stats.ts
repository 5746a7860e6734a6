// Counters of one storage backend, for the status page and /metrics: bytes moved, objects alive,
// cleanups that failed, and orphaned attempts waiting for their grace period to pass.

import type { StorageBackendKind } from "./object-store.ts";

export interface StorageStatsSnapshot {
  backend: StorageBackendKind;
  location: string;
  bytesWritten: number;
  bytesRead: number;
  /** Objects written by attempts of this process and not deleted yet. */
  objectsAlive: number;
  /** Attempt cleanups that failed (each retry that failed counts once). */
  cleanupFailures: number;
  /** Attempts whose cleanup is still being retried. */
  cleanupsRetrying: number;
  /** Orphaned attempts found by the last sweep, younger than the grace period. */
  pendingSweeps: number;
  /** Orphaned attempts the sweeper deleted since start. */
  sweptAttempts: number;
  lastSweepAt?: number;
  lastError?: string;
}

export class StorageStats {
  readonly backend: StorageBackendKind;
  readonly location: string;
  bytesWritten = 0;
  bytesRead = 0;
  objectsAlive = 0;
  cleanupFailures = 0;
  cleanupsRetrying = 0;
  pendingSweeps = 0;
  sweptAttempts = 0;
  lastSweepAt: number | undefined;
  lastError: string | undefined;

  constructor(backend: StorageBackendKind, location: string) {
    this.backend = backend;
    this.location = location;
  }

  snapshot(): StorageStatsSnapshot {
    const out: StorageStatsSnapshot = {
      backend: this.backend,
      location: this.location,
      bytesWritten: this.bytesWritten,
      bytesRead: this.bytesRead,
      objectsAlive: this.objectsAlive,
      cleanupFailures: this.cleanupFailures,
      cleanupsRetrying: this.cleanupsRetrying,
      pendingSweeps: this.pendingSweeps,
      sweptAttempts: this.sweptAttempts,
    };
    if (this.lastSweepAt !== undefined) out.lastSweepAt = this.lastSweepAt;
    if (this.lastError !== undefined) out.lastError = this.lastError;
    return out;
  }
}
