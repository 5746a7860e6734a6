// Replicas on one database see each other's changes at once: LISTEN on the channels every batch
// NOTIFYs (pg-batch.ts), reload the named jobs, their event counts and runners, and hand the jobs
// to the core (queues, leases, waiters, dispatch). Notifications of this replica's own batches
// are skipped. When the listening connection is re-made, notifications may have been missed:
// every job whose version differs is reloaded, and every job's event index.

import type { Logger } from "../../log/logger.ts";
import { errorMessage } from "../../errors.ts";
import { JOBS_CHANNEL, RUNNERS_CHANNEL } from "./pg-batch.ts";
import type { PgJobLogs } from "./pg-job-logs.ts";
import type { PgStore } from "./pg-store.ts";

export interface ReplicaListener {
  /** Applies what arrived since listening began, and from then on as it arrives (after the view loaded). */
  start(): void;
  stop(): Promise<void>;
}

export async function listenToReplicas(store: PgStore, logs: PgJobLogs, logger: Logger): Promise<ReplicaListener> {
  const jobs = new Set<string>();
  const runners = new Set<string>();
  let resync = false;
  let running: Promise<void> | undefined;
  let stopped = false;
  let started = false;

  // One reload at a time, in arrival order; what arrives meanwhile joins the next one.
  const drain = (): void => {
    if (running !== undefined || stopped || !started || (jobs.size === 0 && runners.size === 0 && !resync)) return;
    running = (async () => {
      await undefined; // `running` is set before the loop can end it
      while (!stopped && (jobs.size > 0 || runners.size > 0 || resync)) {
        // A failed store reloads everything once it reconnects: nothing to apply meanwhile.
        if (store.commits.failure !== undefined) {
          jobs.clear();
          runners.clear();
          resync = false;
          break;
        }
        const jobIds = [...jobs];
        const runnerIds = [...runners];
        const full = resync;
        jobs.clear();
        runners.clear();
        resync = false;
        try {
          if (full) {
            await store.resync();
            // Event NOTIFYs were missed too: every job's event count (a runner may move here).
            await logs.reloadAllIndex();
          }
          await store.reloadRunners(runnerIds);
          await store.reloadJobs(jobIds);
          await logs.reloadIndex(jobIds);
        } catch (error) {
          logger.warn("Cannot apply another replica's changes yet; checking every job again shortly", { error: errorMessage(error).slice(0, 200) });
          resync = true;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      running = undefined;
    })();
  };

  const collect = (into: Set<string>) => (payload: string) => {
    const colon = payload.indexOf(":");
    if (colon < 0 || payload.slice(0, colon) === store.replicaId) return;
    for (const id of payload.slice(colon + 1).split(",")) if (id !== "") into.add(id);
    drain();
  };

  let listens = 0;
  const onListen = () => {
    // The first LISTEN is part of opening; a later one follows a lost connection.
    if (++listens > 2) {
      resync = true;
      drain();
    }
  };
  const subscriptions = await Promise.all([
    store.sql.listen(JOBS_CHANNEL, collect(jobs), onListen),
    store.sql.listen(RUNNERS_CHANNEL, collect(runners), onListen),
  ]);
  return {
    start() {
      started = true;
      drain();
    },
    async stop() {
      stopped = true;
      await Promise.all(subscriptions.map((s) => s.unlisten().catch(() => {})));
      await running;
    },
  };
}
