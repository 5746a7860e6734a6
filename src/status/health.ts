// /healthz: is the process alive and is every runner loop still ticking? Answered from the
// snapshot's tick times, never by probing, so a stuck loop shows even when the process answers.

import type { RunnerSnapshot } from "./snapshot.ts";

export interface LoopHealth {
  name: string;
  lastTickSecondsAgo: number;
  maxSilenceSeconds: number;
  ok: boolean;
}

export type Health =
  | { ok: true; loops: LoopHealth[] }
  | { ok: false; reason: string; loops: LoopHealth[] };

export function checkHealth(snapshot: RunnerSnapshot): Health {
  const loops = snapshot.loops.map((loop): LoopHealth => {
    const silentMs = Math.max(0, snapshot.now - loop.lastTickAt);
    return {
      name: loop.name,
      lastTickSecondsAgo: Math.round(silentMs / 100) / 10,
      maxSilenceSeconds: loop.maxSilenceMs / 1000,
      ok: Number.isFinite(silentMs) && silentMs <= loop.maxSilenceMs,
    };
  });
  // A failed runner has given up: restarting it is the supervisor's job, so liveness says so.
  if (snapshot.state === "failed") return { ok: false, reason: "runner failed", loops };
  const stuck = loops.filter((l) => !l.ok);
  if (stuck.length > 0) {
    const reason = stuck.map((l) => `${l.name} loop last ticked ${Math.round(l.lastTickSecondsAgo)} s ago`).join("; ");
    return { ok: false, reason, loops };
  }
  return { ok: true, loops };
}
