// A session's pulse, run from its start to its end: the heartbeat every interval (leases renewed,
// overdue results sent again) and liveness (a probe after a few quiet seconds, the session given
// up after a few more: liveness.ts).

import type { Timers } from "../../util/time.ts";
import { Liveness } from "./liveness.ts";
import type { TransportClosed } from "./transport.ts";

export interface SessionPulseOptions {
  timers: Pick<Timers, "now" | "sleep">;
  heartbeatMs: number;
  probeAfterMs: number;
  timeoutMs: number;
  /** Sends a heartbeat: a liveness probe (`overdue` false), or the interval's (with what is overdue). */
  heartbeat: (overdue: boolean) => void;
  /** The loop is alive: called each interval with how long it may stay silent (for /healthz). */
  tick: (periodMs: number) => void;
}

export interface SessionPulse {
  liveness: Liveness;
  /** Resolves with why the session ends when the controller was found silent. */
  silent: Promise<TransportClosed>;
  /** The session ended: both loops stop. */
  stop(): void;
}

/** Starts both loops; they end with `signal` (the runner stopping) or stop(). */
export function startSessionPulse(o: SessionPulseOptions, signal: AbortSignal): SessionPulse {
  const stopped = new AbortController();
  const loops = AbortSignal.any([signal, stopped.signal]);
  void heartbeatLoop(o, loops);
  let silentFor: (closed: TransportClosed) => void = () => {};
  const silent = new Promise<TransportClosed>((resolve) => (silentFor = resolve));
  const liveness = new Liveness({
    timers: o.timers, probeAfterMs: o.probeAfterMs, timeoutMs: o.timeoutMs, probe: () => o.heartbeat(false),
    onSilent: (ms) => silentFor({ reason: `The controller did not answer for ${Math.round(ms / 1000)} s (frozen or unreachable)`, code: "connection_failed" }),
  });
  void liveness.run(loops);
  return { liveness, silent, stop: () => stopped.abort() };
}

async function heartbeatLoop(o: SessionPulseOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    o.tick(o.heartbeatMs);
    await o.timers.sleep(o.heartbeatMs, signal);
    if (signal.aborted) break;
    o.heartbeat(true);
  }
}
