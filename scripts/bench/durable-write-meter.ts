// Counts the controller's durable writes during a run, from its group commit's own counters:
// flushes (one write per dirty file per event-loop turn) and the fsyncs they cost.

import type { ReferenceController } from "../../src/reference-controller/controller.ts";

export interface DurableWrites {
  flushes: number;
  fsyncs: number;
}

export function meterDurableWrites(controller: ReferenceController): { read(): DurableWrites; reset(): void } {
  const stats = controller.core.store.commits.stats;
  let base = { flushes: stats.flushes, fsyncs: stats.fsyncs };
  return {
    read: () => ({ flushes: stats.flushes - base.flushes, fsyncs: stats.fsyncs - base.fsyncs }),
    reset: () => {
      base = { flushes: stats.flushes, fsyncs: stats.fsyncs };
    },
  };
}
