// The default store of the reference controller: the journal and the event segments under
// `<dataDir>/controller/` (store.ts, job-logs.ts), behind the store seam.

import * as path from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../util/time.ts";
import { GroupCommit, type GroupCommitOptions } from "./group-commit.ts";
import { JobLogs } from "./job-logs.ts";
import { ControllerStore } from "./store.ts";
import { errnoOf, isStoreWriteError } from "./store-failure.ts";
import type { StoreBackend } from "./store-seam.ts";

export interface EmbeddedOptions {
  commit?: GroupCommitOptions;
  compactAfter?: number;
  jobLogMaxBytes?: number;
  eventJournalMaxBytes?: number;
}

/** The default store: the journal and event segments under `<dataDir>/controller/`. */
export function embeddedBackend(options: EmbeddedOptions, dir: string, logger: Logger, clock: Clock): StoreBackend {
  const commits = new GroupCommit({ logger, now: () => clock.now(), ...options.commit });
  let store: ControllerStore;
  try {
    store = ControllerStore.open({ dir, logger, commits, now: () => clock.now(), ...(options.compactAfter === undefined ? {} : { compactAfter: options.compactAfter }) });
  } catch (error) {
    if (!isStoreWriteError(error)) throw error;
    throw new EdgeError("store_unavailable", `Cannot start the controller: its data directory "${dir}" cannot be written (${errnoOf(error)}: ${errorMessage(error).slice(0, 200)})`, { cause: error });
  }
  const logs = new JobLogs({
    dir: path.join(dir, "events"),
    logger,
    commits,
    legacyDir: path.join(dir, "logs"),
    ...(options.jobLogMaxBytes === undefined ? {} : { jobMaxBytes: options.jobLogMaxBytes }),
    ...(options.eventJournalMaxBytes === undefined ? {} : { maxBytes: options.eventJournalMaxBytes }),
  });
  return { store, logs, commits };
}
