// /readyz: may the runner take jobs now? Ready means state `ready`, connected, its keys told, and a free slot;
// otherwise a named kind (busy is healthy, unauthorized is broken: the page must not show them
// alike) and one short reason an operator (or a load balancer log) can act on.

import { formatDuration } from "./format.ts";
import type { RunnerSnapshot } from "./snapshot.ts";

export type NotReadyKind =
  | "starting"
  | "draining"
  | "stopped"
  | "failed"
  | "unauthorized"
  | "never_connected"
  | "disconnected"
  | "busy";

export type Readiness = { ready: true } | { ready: false; kind: NotReadyKind; reason: string };

export function checkReadiness(snapshot: RunnerSnapshot): Readiness {
  const { state, connection } = snapshot;
  if (state === "starting" || state === "draining" || state === "stopped" || state === "failed") {
    return { ready: false, kind: state, reason: state };
  }
  if (connection.state === "unauthorized") {
    return { ready: false, kind: "unauthorized", reason: "unauthorized: the controller refused the API key" };
  }
  if (connection.state !== "connected") {
    const down = formatDuration(snapshot.now - (connection.disconnectedSince ?? connection.since));
    if (connection.firstConnectedAt === undefined && connection.reconnects === 0) {
      return { ready: false, kind: "never_connected", reason: `never connected (trying for ${down})` };
    }
    return { ready: false, kind: "disconnected", reason: `not connected (disconnected for ${down})` };
  }
  // Connected but the runner has not finished its own start (state "connecting").
  if (state !== "ready") return { ready: false, kind: "starting", reason: "starting" };
  // Told a few ms after the first session is up (not beside the session request, which it
  // delayed): until then a job with secret inputs has no key to be encrypted to.
  if (snapshot.keysPending === true) return { ready: false, kind: "starting", reason: "starting: telling the controller the encryption keys" };
  if (snapshot.freeSlots <= 0) {
    const busy = snapshot.concurrency - Math.max(0, snapshot.freeSlots);
    return { ready: false, kind: "busy", reason: `busy: every slot runs a job (${busy}/${snapshot.concurrency})` };
  }
  return { ready: true };
}
