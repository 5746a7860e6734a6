// A change of a runner record as the fields it changed. Replicas write runner changes this way
// (pg-batch.ts): a replica whose view is stale (it has not heard of another replica's key
// rotation) writes its `lastSeenAt` without putting the old key hash back.

import type { StoredRunner } from "../records.ts";

export interface RunnerPatch {
  /** Fields set, with their new values. */
  readonly set: Partial<StoredRunner>;
  /** Fields removed. */
  readonly unset: ReadonlySet<string>;
}

/** The fields `after` changed from `before` (compared as JSON: they are JSON values). */
export function diffRunner(before: StoredRunner, after: StoredRunner): RunnerPatch {
  const set: Record<string, unknown> = {};
  const unset = new Set<string>();
  const was = before as unknown as Record<string, unknown>;
  const now = after as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(now)) {
    if (value === undefined) {
      if (was[key] !== undefined) unset.add(key);
    } else if (JSON.stringify(value) !== JSON.stringify(was[key])) set[key] = value;
  }
  for (const [key, value] of Object.entries(was)) if (value !== undefined && !(key in now)) unset.add(key);
  return { set: set as Partial<StoredRunner>, unset };
}

/** `later` applied after `earlier`. */
export function mergePatch(earlier: RunnerPatch | undefined, later: RunnerPatch): RunnerPatch {
  if (earlier === undefined) return later;
  const set: Record<string, unknown> = { ...earlier.set };
  const unset = new Set(earlier.unset);
  for (const key of later.unset) {
    delete set[key];
    unset.add(key);
  }
  for (const [key, value] of Object.entries(later.set)) {
    set[key] = value;
    unset.delete(key);
  }
  return { set: set as Partial<StoredRunner>, unset };
}

/** `runner` with `patch` applied (a row read from the database, with this replica's changes not written yet). */
export function applyPatch(runner: StoredRunner, patch: RunnerPatch | undefined): StoredRunner {
  if (patch === undefined) return runner;
  const out: Record<string, unknown> = { ...runner, ...patch.set };
  for (const key of patch.unset) delete out[key];
  return out as unknown as StoredRunner;
}
