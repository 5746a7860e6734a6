// Every number the controller hands the runner, clamped to a documented range before use
// (docs/protocol.md, "Values from the controller"): a hostile or broken controller cannot make
// the runner heartbeat in a tight loop, park it for an hour, or pass a timer a delay that
// overflows (Bun fires a setTimeout above 2^31-1 ms after 1 ms).

import type { CreateSessionResponse } from "../../protocol/edge-v1.ts";

export interface ValueRange {
  min: number;
  max: number;
  /** Used when the value is missing or not a finite number. */
  fallback: number;
}

/** The ranges, in one table (the protocol page lists the same). */
export const CONTROLLER_VALUE_RANGES = {
  heartbeatIntervalMs: { min: 1_000, max: 300_000, fallback: 10_000 },
  leaseTtlMs: { min: 2_000, max: 3_600_000, fallback: 30_000 },
  pollWaitMs: { min: 1_000, max: 60_000, fallback: 25_000 },
} as const satisfies Record<string, ValueRange>;

/** `value` inside `range`; `fallback` for anything that is not a finite number. */
export function clampValue(value: unknown, range: ValueRange): number {
  if (typeof value !== "number" || !Number.isFinite(value)) return range.fallback;
  return Math.min(range.max, Math.max(range.min, Math.round(value)));
}

export interface SessionValues {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  pollWaitMs: number;
  /** The fields that were out of range (to log once per session, clipped). */
  adjusted: string[];
}

/** The session answer's numbers, each clamped; the heartbeat is kept under a third of the lease. */
export function sessionValues(session: Partial<CreateSessionResponse>): SessionValues {
  const adjusted: string[] = [];
  const take = (field: keyof typeof CONTROLLER_VALUE_RANGES): number => {
    const raw = (session as Record<string, unknown>)[field];
    const value = clampValue(raw, CONTROLLER_VALUE_RANGES[field]);
    if (value !== raw) adjusted.push(`${field} ${typeof raw === "number" ? raw : JSON.stringify(raw)?.slice(0, 40)} → ${value}`);
    return value;
  };
  const leaseTtlMs = take("leaseTtlMs");
  let heartbeatIntervalMs = take("heartbeatIntervalMs");
  if (heartbeatIntervalMs > leaseTtlMs / 3) {
    heartbeatIntervalMs = Math.max(CONTROLLER_VALUE_RANGES.heartbeatIntervalMs.min, Math.floor(leaseTtlMs / 3));
    adjusted.push(`heartbeatIntervalMs → ${heartbeatIntervalMs} (a third of the lease)`);
  }
  return { heartbeatIntervalMs, leaseTtlMs, pollWaitMs: take("pollWaitMs"), adjusted };
}

/** A Retry-After is at least 0 and at most the reconnect ceiling: a server cannot park the runner longer. */
export function clampRetryAfter(retryAfterMs: number | undefined, ceilingMs: number): number | undefined {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return undefined;
  return Math.min(ceilingMs, Math.max(0, retryAfterMs));
}
