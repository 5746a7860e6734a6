// The result spool as the start path sees it: result-spool.ts (with node:crypto, the sealing key
// and the runner-message parser) is loaded only when `<dataDir>/results/` holds a saved result at
// start, or when a result first has to be saved; an idle runner with nothing spooled never loads
// it (issue 15; test/performance/lazy-modules.test.ts). Calls made while it loads wait in order,
// none dropped, and run against it once it is there.

import { readdir } from "node:fs/promises";
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import type { RunnerMessage } from "../../protocol/edge-v1.ts";
import type { JobOutbox, JobOutboxOptions } from "./job-outbox.ts";
import type { ResultSpool, ResultSpoolOptions } from "./result-spool.ts";

/** What the edge connection asks of a spool (ResultSpool, or this front to it). */
export interface ResultSpooling {
  resultPending(outbox: JobOutbox, connected: boolean): void;
  answered(outbox: JobOutbox): void;
  saveAll(outboxes: Iterable<JobOutbox>): Promise<void>;
  restore(send: (messages: RunnerMessage[]) => boolean | void, onDone: (job: JobOutbox) => void, options?: JobOutboxOptions): Promise<JobOutbox[]>;
}

/** The file names result-spool.ts writes; a directory without one has nothing to restore. */
export const SPOOL_FILE_SUFFIX = ".result.json";

type SpoolState = "unloaded" | "loading" | "loaded" | "failed";

export class ResultSpoolFront implements ResultSpooling {
  readonly dir: string;
  readonly #o: ResultSpoolOptions;
  readonly #load: () => Promise<typeof import("./result-spool.ts")>;
  readonly #log: Logger;
  #state: SpoolState = "unloaded";
  #spool: ResultSpool | undefined;
  #loading: Promise<ResultSpool | undefined> | undefined;
  /** Calls made while the spool loads, in the order they came. */
  #queued: Array<(spool: ResultSpool) => void> = [];

  /** `load`: how result-spool.ts is imported (tests count the loads). */
  constructor(options: ResultSpoolOptions, load: () => Promise<typeof import("./result-spool.ts")> = () => import("./result-spool.ts")) {
    this.#o = options;
    this.dir = options.dir;
    this.#load = load;
    this.#log = options.logger.child({ component: "result-spool" });
  }

  /** Whether result-spool.ts has been asked for (for tests and the status of start-up work). */
  get state(): SpoolState {
    return this.#state;
  }

  resultPending(outbox: JobOutbox, connected: boolean): void {
    this.#call((spool) => spool.resultPending(outbox, connected));
  }

  answered(outbox: JobOutbox): void {
    // Nothing was ever handed to a spool: nothing of this job is saved (restore() found no file).
    if (this.#state === "unloaded") return;
    this.#call((spool) => spool.answered(outbox));
  }

  async saveAll(outboxes: Iterable<JobOutbox>): Promise<void> {
    const list = [...outboxes];
    // Only a finished, unanswered result is saved: without one there is nothing to load the spool for.
    if (this.#state === "unloaded" && !list.some((outbox) => outbox.unanswered() !== undefined)) return;
    const spool = await this.#loaded();
    if (spool !== undefined) await spool.saveAll(list);
  }

  async restore(send: (messages: RunnerMessage[]) => boolean | void, onDone: (job: JobOutbox) => void, options: JobOutboxOptions = {}): Promise<JobOutbox[]> {
    if (this.#state === "unloaded" && !(await this.#holdsFiles())) return [];
    const spool = await this.#loaded();
    return spool === undefined ? [] : spool.restore(send, onDone, options);
  }

  /** A cheap look: a missing or unreadable directory, or one without a saved result, holds nothing. */
  async #holdsFiles(): Promise<boolean> {
    try {
      return (await readdir(this.dir)).some((name) => name.endsWith(SPOOL_FILE_SUFFIX));
    } catch {
      return false;
    }
  }

  #call(op: (spool: ResultSpool) => void): void {
    if (this.#spool !== undefined) return op(this.#spool);
    // The load failed and was reported once; the results are still held in memory.
    if (this.#state === "failed") return;
    this.#queued.push(op);
    void this.#loaded();
  }

  #loaded(): Promise<ResultSpool | undefined> {
    this.#loading ??= this.#start();
    return this.#loading;
  }

  async #start(): Promise<ResultSpool | undefined> {
    this.#state = "loading";
    try {
      const { ResultSpool } = await this.#load();
      const spool = new ResultSpool(this.#o);
      // The queue is run before the spool is handed out, so what came first happens first.
      for (const op of this.#queued.splice(0)) op(spool);
      this.#spool = spool;
      this.#state = "loaded";
      return spool;
    } catch (error) {
      this.#state = "failed";
      const lost = this.#queued.splice(0).length;
      this.#log.error(`Cannot load the result spool; ${lost} results waiting for the controller are kept in memory only, and a restart before they are acknowledged runs their jobs again: ${errorMessage(error)}`);
      return undefined;
    }
  }
}
