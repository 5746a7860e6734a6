// Short runs queued behind a busy worker instead of waking an idle one. A sleeping worker thread
// woken for each run cost the runner more CPU than a no-op run itself (docs/performance.md, third
// round): sixteen workers fed one run each per burst woke sixteen threads, where one awake worker
// could run four in a row. Only for a plugin whose recent runs all ended fast, and only in
// threads (the claim slots that make a queued run safe to take back are shared memory,
// worker-protocol.ts); a queued run that waits behind a slow one is taken back and runs elsewhere.

import type { Group } from "./pool-task.ts";
import type { WorkerHost } from "./worker-host.ts";

/** A run "ended fast" when it took at most this many ms in its worker. */
const FAST_RUN_MS = 2;
/** The fast-run score (one per fast run, halved by a slow one) from which runs are queued behind busy workers. */
const FAST_SCORE = 16;
const MAX_SCORE = 64;
/** A queued run not started within this many ms of the worker's last result is taken back. */
export const STALL_MS = 10;

/** A busy worker of the group a new run may wait behind, or undefined to use an idle one. */
export function busyWorkerFor(group: Group): WorkerHost | undefined {
  if (group.fastRuns < FAST_SCORE || group.policy.isolation !== "thread") return undefined;
  const { maxJobsPerWorker, memoryCeilingMb } = group.policy;
  for (const host of group.hosts) {
    if (!host.canQueue || host.jobsServed + host.depth >= maxJobsPerWorker) continue;
    if (memoryCeilingMb !== undefined && host.memoryBytes !== undefined && host.memoryBytes > memoryCeilingMb * 1024 * 1024) continue;
    return host;
  }
  return undefined;
}

/**
 * Scores the group's runs after each result: +1 for a fast one, halved by a slow one (and reset
 * by a stall), so a plugin whose runs take time soon stops being queued behind busy workers.
 */
export function recordRun(group: Group, host: WorkerHost): void {
  const ms = host.lastRunMs;
  if (ms === undefined) return;
  group.fastRuns = ms <= FAST_RUN_MS ? Math.min(group.fastRuns + 1, MAX_SCORE) : group.fastRuns >> 1;
}
