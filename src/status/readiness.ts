// /readyz: may the runner take jobs now? Ready means state `ready`, connected, and a free slot;
// otherwise one short reason an operator (or a load balancer log) can act on.

import { formatDuration } from "./format.ts";
import type { RunnerSnapshot } from "./snapshot.ts";

export type Readiness = { ready: true } | { ready: false; reason: string };

export function checkReadiness(snapshot: RunnerSnapshot): Readiness {
  const { state, connection } = snapshot;
  if (state === "starting" || state === "draining" || state === "stopped" || state === "failed") {
    return { ready: false, reason: state };
  }
  if (connection.state === "unauthorized") {
    return { ready: false, reason: "unauthorized: the controller refused the API key" };
  }
  if (connection.state !== "connected") {
    const since = formatDuration(snapshot.now - connection.since);
    return { ready: false, reason: `not connected (${connection.state} since ${since})` };
  }
  // Connected but the runner has not finished its own start (state "connecting").
  if (state !== "ready") return { ready: false, reason: "starting" };
  if (snapshot.freeSlots <= 0) {
    const busy = snapshot.concurrency - Math.max(0, snapshot.freeSlots);
    return { ready: false, reason: `no free slots (${busy}/${snapshot.concurrency} busy)` };
  }
  return { ready: true };
}
