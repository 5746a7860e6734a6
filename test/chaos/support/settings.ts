// How long the chaos suite runs: short in `npm test` (a few minutes on 2 cores), full length in
// `npm run chaos` (CHAOS_FULL=1: hundreds of kills, 10,000+ frames), where every census is also
// written to the report (CHAOS_REPORT, default chaos-report.md).

export const FULL = process.env.CHAOS_FULL === "1";

export const CHAOS = {
  /** Kills per transport in each kill loop. */
  runnerKills: FULL ? 100 : 3,
  controllerKills: FULL ? 100 : 3,
  /** Jobs submitted per kill (the stream keeps going through the kills). */
  jobsPerKill: FULL ? 4 : 4,
  /** The controller outage of issue 9 item 3, and the lease, both scaled together. */
  outageMs: Number(process.env.CHAOS_OUTAGE_MS ?? (FULL ? 60_000 : 6_000)),
  /** Frames per fuzz (controller endpoints, and the runner's hostile controller). */
  frames: FULL ? 10_000 : 400,
};

/** The lease and reconnect settings scaled to the outage: the defaults are 30 s / 60 s for a 60 s outage. */
export function scaled(outageMs: number): { leaseTtlMs: number; heartbeatMs: number; reconnectMaxMs: number; leaseGraceMs: number } {
  const leaseTtlMs = Math.round(outageMs / 2);
  const reconnectMaxMs = outageMs;
  return { leaseTtlMs, heartbeatMs: Math.max(200, Math.round(leaseTtlMs / 3)), reconnectMaxMs, leaseGraceMs: leaseTtlMs + reconnectMaxMs };
}

export const REPORT = process.env.CHAOS_REPORT ?? "chaos-report.md";
