// Measures the controller's durable writes during a run: calls and time spent in the journal
// (store.commit, each one write + fsync), per-job event files (logs.append: open, write, fsync,
// close) and journal compaction. It wraps the methods of one live controller instance; the
// source is untouched, and the wrappers cost two performance.now() calls each.

import type { ReferenceController } from "../../src/reference-controller/controller.ts";

export interface DurableWrites {
  journalCommits: number;
  eventAppends: number;
  compactions: number;
  journalMs: number;
  eventMs: number;
  compactMs: number;
}

export function meterDurableWrites(controller: ReferenceController): { read(): DurableWrites; reset(): void } {
  const totals: DurableWrites = { journalCommits: 0, eventAppends: 0, compactions: 0, journalMs: 0, eventMs: 0, compactMs: 0 };
  const store = controller.core.store;
  const logs = controller.core.logs;
  const commit = store.commit.bind(store);
  const compact = store.compact.bind(store);
  const append = logs.append.bind(logs);
  store.compact = () => {
    const t = performance.now();
    try {
      compact();
    } finally {
      totals.compactions++;
      totals.compactMs += performance.now() - t;
    }
  };
  // commit() may compact (this.compact(), i.e. the wrapper above): that time is counted once, there.
  store.commit = (records) => {
    const t = performance.now();
    const compactBefore = totals.compactMs;
    try {
      commit(records);
    } finally {
      totals.journalCommits++;
      totals.journalMs += performance.now() - t - (totals.compactMs - compactBefore);
    }
  };
  logs.append = (jobId, events) => {
    const t = performance.now();
    try {
      append(jobId, events);
    } finally {
      totals.eventAppends++;
      totals.eventMs += performance.now() - t;
    }
  };
  return {
    read: () => ({ ...totals }),
    reset: () => Object.assign(totals, { journalCommits: 0, eventAppends: 0, compactions: 0, journalMs: 0, eventMs: 0, compactMs: 0 }),
  };
}
