// The jobs an edge connection holds, by job and attempt: the leases it heartbeats, what a new
// session replays, the results kept in the spool across restarts, and waiting until every one is
// answered (a drain's flush).

import type { RunnerMessage } from "../../protocol/edge-v1.ts";
import type { JobOutbox, JobOutboxOptions } from "./job-outbox.ts";
import type { ResultSpooling } from "./result-spool-front.ts";

export class HeldJobs {
  readonly #jobs = new Map<string, JobOutbox>();
  readonly #flushWaiters = new Set<() => void>();
  readonly #spool: ResultSpooling | undefined;

  constructor(spool: ResultSpooling | undefined) {
    this.#spool = spool;
  }

  /** Results a previous process could not report, read back from the spool (none without one); add() holds them. */
  restore(send: (messages: RunnerMessage[]) => boolean, options: JobOutboxOptions): Promise<JobOutbox[]> | undefined {
    return this.#spool?.restore(send, (done) => this.forget(done), options);
  }

  /** On the way out: every result still unanswered goes to the spool. */
  save(): Promise<void> | undefined {
    return this.#spool?.saveAll(this.#jobs.values());
  }

  get(jobId: string, attempt: number): JobOutbox | undefined {
    return this.#jobs.get(`${jobId}#${attempt}`);
  }

  has(job: JobOutbox): boolean {
    return this.#jobs.has(job.key);
  }

  add(job: JobOutbox): void {
    this.#jobs.set(job.key, job);
  }

  /** The leases to heartbeat: jobs not yet done, lost or given back. */
  leases(): Array<{ jobId: string; attempt: number }> {
    return [...this.#jobs.values()].filter((j) => j.holdsLease).map((j) => ({ jobId: j.job.id, attempt: j.job.attempt }));
  }

  /** Every job's unacknowledged messages, for a new session; `releases`: whether its controller takes jobs back. */
  replay(releases: boolean): RunnerMessage[] {
    const replay: RunnerMessage[] = [];
    for (const job of this.#jobs.values()) replay.push(...job.pending(releases));
    return replay;
  }

  /** The replay was handed to the session (a job done by it leaves the table meanwhile). */
  replayed(): void {
    for (const job of [...this.#jobs.values()]) job.replayed();
  }

  /** Results a whole heartbeat interval went unanswered, to send once more (JobOutbox.resendOverdue()). */
  overdue(): RunnerMessage[] {
    return [...this.#jobs.values()].flatMap((job) => job.resendOverdue());
  }

  /** The job is answered for good (or given up): its spooled result goes, it leaves the table (unless another outbox took its key) and flush() looks again. */
  forget(job: JobOutbox): void {
    this.#spool?.answered(job);
    if (this.#jobs.get(job.key) === job) this.#jobs.delete(job.key);
    for (const waiter of [...this.#flushWaiters]) waiter();
  }

  /** Resolves once every held job is done, or at `signal`. */
  async flush(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && [...this.#jobs.values()].some((job) => !job.done)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#flushWaiters.delete(done);
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#flushWaiters.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }
}
