// The event journal: every accepted `log` and `step` event of every job, one JSON line each (with
// its job id) appended to the open segment `events/<n>.jsonl` and fsync'd by the group commit.
// An in-memory index of offsets per job serves reads and the dedupe cursor without a disk read;
// a segment whose jobs were all pruned is deleted.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Logger } from "../log/logger.ts";
import type { LogLine, StepUpdate } from "../protocol/edge-v1.ts";
import { AppendFile } from "./append-file.ts";
import type { GroupCommit } from "./group-commit.ts";
import { cutAfterData, noteDataEnd, readJsonl, syncDirectory, type DataEnd } from "./jsonl-file.ts";
import type { EventStore } from "./store-seam.ts";
import { MAX_EVENT_LINE_BYTES } from "./store-file-bounds.ts";
import { logPageLength } from "./log-page.ts";
import { readLinesSync } from "../util/read-lines.ts";

/** One stored event. `seq` is job-wide; `attemptSeq` is the runner's per-attempt sequence. */
export type JobEvent =
  | { seq: number; attempt: number; attemptSeq: number; type: "log"; lines: LogLine[]; truncated?: true }
  | { seq: number; attempt: number; attemptSeq: number; type: "step"; step: StepUpdate; truncated?: true };

export const DEFAULT_JOB_LOG_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_EVENT_JOURNAL_MAX_BYTES = 4 * 1024 * 1024 * 1024;

/** The marker line stored in place of the first event past a quota (both stores). */
export function truncationLine(ts: number, jobMaxBytes: number, maxBytes: number): LogLine {
  return {
    ts,
    level: "warn",
    msg: `[edge-runner] Log truncated: this job's events passed the controller's quota (${jobMaxBytes} bytes per job, ${maxBytes} bytes in all); later lines are dropped`,
  };
}

/** What the controller must know about a job's events to dedupe and fence. */
export interface EventCursor {
  /** Events stored for the job, all attempts. */
  count: number;
  attempt: number;
  /** Highest contiguous per-attempt seq stored for `attempt`. */
  highestSeq: number;
}

export interface JobLogsOptions {
  /** `<controller dir>/events`; created when missing. */
  dir: string;
  logger: Logger;
  commits: GroupCommit;
  /** A new segment starts once the open one is this big. */
  segmentBytes?: number;
  /** Per-job files (`<jobId>.jsonl`) of earlier versions: moved into the journal at open. */
  legacyDir?: string;
  /** Bytes of events one job may store; past it lines are dropped after one truncation marker. */
  jobMaxBytes?: number;
  /** Bytes all segments together may hold; past it every job's new lines are dropped the same way. */
  maxBytes?: number;
}

/** What to store of the next event of a job, given the quotas (see `admit`). */
export type EventAdmission = "store" | "truncate" | "drop";

interface Segment {
  no: number;
  file: AppendFile;
  /** Jobs with events in this segment; at zero (and not open) the segment is deleted. */
  jobs: Set<string>;
}

interface JobIndex {
  /** [segment, offset, length] per event, in seq order (event i has seq i + 1). */
  refs: number[];
  /** The latest attempt with events, and its highest contiguous attemptSeq. */
  attempt: number;
  highestSeq: number;
  /** Bytes of this job's events on disk (and buffered). */
  bytes: number;
  /** The truncation marker was stored: later lines are dropped. */
  truncated: boolean;
}

const SEGMENT_NAME = /^(\d{6,})\.jsonl$/;

export class JobLogs implements EventStore {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #commits: GroupCommit;
  readonly #segmentBytes: number;
  readonly #segments = new Map<number, Segment>();
  readonly #index = new Map<string, JobIndex>();
  readonly #jobMaxBytes: number;
  readonly #maxBytes: number;
  /** Bytes of every segment (and buffered appends). */
  #totalBytes = 0;
  #open!: Segment;

  constructor(options: JobLogsOptions) {
    this.#dir = options.dir;
    this.#logger = options.logger;
    this.#commits = options.commits;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#jobMaxBytes = options.jobMaxBytes ?? DEFAULT_JOB_LOG_MAX_BYTES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_EVENT_JOURNAL_MAX_BYTES;
    fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const numbers = fs.readdirSync(this.#dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const no of numbers) this.#loadSegment(no);
    const last = numbers.at(-1);
    this.#open = last === undefined ? this.#newSegment(1) : (this.#segments.get(last) as Segment);
    // A store that failed at open (a segment it could not cut) migrates at the next start.
    if (options.legacyDir !== undefined && this.#commits.failure === undefined) this.#migrate(options.legacyDir);
  }

  /** Bytes the event journal holds (all segments). */
  get totalBytes(): number { return this.#totalBytes; }

  /**
   * Whether the next event of `jobId` (about `bytes` long) fits the quotas: `store` it;
   * `truncate`: store a marker line in its place (once per job) and drop what follows; `drop`:
   * store the event without its content (so seqs stay contiguous and acks stay true).
   */
  admit(jobId: string, bytes: number): EventAdmission {
    const index = this.#index.get(jobId);
    if (index?.truncated === true) return "drop";
    const jobBytes = index?.bytes ?? 0;
    if (jobBytes + bytes <= this.#jobMaxBytes && this.#totalBytes + bytes <= this.#maxBytes) return "store";
    return "truncate";
  }

  /** The marker line stored in place of the first event past a quota. */
  truncationLine(ts: number): LogLine {
    return truncationLine(ts, this.#jobMaxBytes, this.#maxBytes);
  }

  /** Jobs with stored events (for tests and status). */
  get jobCount(): number { return this.#index.size; }
  get segmentCount(): number { return this.#segments.size; }

  /**
   * Appends the events (each must be the job's next seq) and indexes them. They are durable at
   * the end of this turn's batch: acks wait for `commits.afterDurable()`.
   */
  append(jobId: string, events: readonly JobEvent[]): void {
    if (events.length === 0) return;
    this.#commits.check(`store events of job "${jobId}"`);
    for (const event of events) {
      const expected = (this.#index.get(jobId)?.refs.length ?? 0) / 3 + 1;
      if (event.seq !== expected) throw new RangeError(`Cannot store event ${event.seq} of job "${jobId}": expected seq ${expected}`);
      if (this.#open.file.size >= this.#segmentBytes) {
        // The zeros written ahead of a full segment's data go with its last write (eventJournalMaxBytes counts data).
        this.#open.file.seal();
        this.#open = this.#newSegment(this.#open.no + 1);
      }
      const line = JSON.stringify({ jobId, ...event }) + "\n";
      const offset = this.#open.file.append(line);
      this.#indexEvent(jobId, event, this.#open, offset, this.#open.file.size - offset);
    }
    this.#commits.appended();
  }

  /**
   * Events with `seq > after`, at most `limit` of them and at most MAX_LOG_PAGE_BYTES of them as
   * stored (logPageLength(): never fewer than one), and the caller asks again after the last seq
   * it got. The index gives each event's length, so nothing past the page is read.
   */
  read(jobId: string, after: number, limit: number): JobEvent[] {
    const refs = this.#index.get(jobId)?.refs ?? [];
    const page: Array<{ segment: Segment; offset: number; length: number }> = [];
    for (let i = Math.max(0, after) * 3; i < refs.length && page.length < limit; i += 3) {
      const segment = this.#segments.get(refs[i] as number);
      if (segment !== undefined) page.push({ segment, offset: refs[i + 1] as number, length: refs[i + 2] as number });
    }
    const events: JobEvent[] = [];
    for (const { segment, offset, length } of page.slice(0, logPageLength(page.map((ref) => ref.length)))) {
      let bytes: Buffer;
      try {
        bytes = segment.file.read(offset, length);
      } catch (error) {
        // The store failed: the events it wrote before are served, and the page ends at the
        // first one it never wrote (never acknowledged); asked for alone, that one throws.
        if (events.length > 0) break;
        throw error;
      }
      const { jobId: _j, ...event } = JSON.parse(bytes.toString("utf8")) as JobEvent & { jobId: string };
      events.push(event as JobEvent);
    }
    return events;
  }

  /** The dedupe cursor of a job's `attempt`, from memory (no disk read, none for a first attempt). */
  cursor(jobId: string, attempt: number): EventCursor {
    const index = this.#index.get(jobId);
    if (index === undefined) return { count: 0, attempt, highestSeq: 0 };
    return { count: index.refs.length / 3, attempt, highestSeq: index.attempt === attempt ? index.highestSeq : 0 };
  }

  /** Forgets the events of these jobs (retention) and deletes segments no job needs any more. */
  drop(jobIds: Iterable<string>): void {
    const touched = new Set<Segment>();
    for (const id of jobIds) {
      const index = this.#index.get(id);
      if (index === undefined) continue;
      const refs = index.refs;
      this.#index.delete(id);
      this.#totalBytes -= index.bytes;
      for (let i = 0; i < refs.length; i += 3) {
        const segment = this.#segments.get(refs[i] as number);
        if (segment !== undefined && segment.jobs.delete(id)) touched.add(segment);
      }
    }
    for (const segment of touched) {
      if (segment.jobs.size > 0 || segment === this.#open) continue;
      this.#segments.delete(segment.no);
      this.#commits.retire(segment.file);
      fs.rmSync(segment.file.path, { force: true });
      this.#logger.debug("Deleted an event segment whose jobs were all pruned", { segment: segment.no });
    }
  }

  /** Drops the events of every job `keep` says no to (jobs pruned before a restart). */
  retainOnly(keep: (jobId: string) => boolean): void {
    this.drop([...this.#index.keys()].filter((id) => !keep(id)));
  }

  #indexEvent(jobId: string, event: Pick<JobEvent, "attempt" | "attemptSeq" | "truncated">, segment: Segment, offset: number, length: number): void {
    let index = this.#index.get(jobId);
    if (index === undefined) this.#index.set(jobId, (index = { refs: [], attempt: 0, highestSeq: 0, bytes: 0, truncated: false }));
    index.refs.push(segment.no, offset, length);
    index.bytes += length;
    this.#totalBytes += length;
    if ((event as { truncated?: boolean }).truncated === true) index.truncated = true;
    if (event.attempt !== index.attempt) {
      index.attempt = event.attempt;
      index.highestSeq = 0;
    }
    if (event.attemptSeq === index.highestSeq + 1) index.highestSeq = event.attemptSeq;
    segment.jobs.add(jobId);
  }

  #newSegment(no: number): Segment {
    const segment: Segment = { no, file: new AppendFile(this.#segmentPath(no), this.#commits.preallocateBytes), jobs: new Set() };
    // The new file's directory entry must survive a crash like its content.
    syncDirectory(this.#dir);
    this.#segments.set(no, segment);
    this.#commits.track(segment.file);
    return segment;
  }

  #segmentPath(no: number): string {
    return path.join(this.#dir, `${String(no).padStart(6, "0")}.jsonl`);
  }

  /**
   * Indexes one segment, a line at a time (a segment is read whole nowhere: it has no size
   * limit). A torn last line (crash mid-write) is cut off with a warning; a corrupt line (one that
   * does not parse, or over MAX_EVENT_LINE_BYTES) is skipped and logged.
   */
  #loadSegment(no: number): void {
    const file = this.#segmentPath(no);
    const segment: Segment = { no, file: undefined as unknown as AppendFile, jobs: new Set() };
    const end: DataEnd = {};
    for (const line of readLinesSync(file, { maxLineBytes: MAX_EVENT_LINE_BYTES, zeroEndsData: true })) {
      if (noteDataEnd(end, line)) continue;
      if (line.kind === "too_long") {
        this.#logger.error("Skipping a corrupt line in the event journal", { file, line: line.number, bytes: line.bytes, reason: `over the cap of ${MAX_EVENT_LINE_BYTES} bytes for a line` });
        continue;
      }
      if (line.text === "") continue;
      const event = parseEventLine(line.text);
      const count = event === undefined ? 0 : (this.#index.get(event.jobId)?.refs.length ?? 0) / 3;
      if (event === undefined || event.seq > count + 1) {
        this.#logger.error("Skipping a corrupt line in the event journal", { file, line: line.number });
        continue;
      }
      // seq <= count: a duplicate from an interrupted migration; the first copy stands.
      if (event.seq === count + 1) this.#indexEvent(event.jobId, event, segment, line.offset, line.bytes);
    }
    const uncut = cutAfterData(file, this.#logger, "the event journal", end);
    segment.file = new AppendFile(file, this.#commits.preallocateBytes);
    if (uncut !== undefined) this.#commits.failUncut(segment.file, uncut);
    this.#segments.set(no, segment);
    this.#commits.track(segment.file);
  }

  /** Moves per-job event files of earlier versions into the journal, then deletes them. */
  #migrate(legacyDir: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(legacyDir).filter((n) => n.endsWith(".jsonl"));
    } catch {
      return;
    }
    for (const name of names) {
      const jobId = name.slice(0, -".jsonl".length);
      const have = (this.#index.get(jobId)?.refs.length ?? 0) / 3;
      const events = (readJsonl(path.join(legacyDir, name), this.#logger, MAX_EVENT_LINE_BYTES).values as JobEvent[])
        .filter((e) => typeof e?.seq === "number" && e.seq > have)
        .sort((a, b) => a.seq - b.seq);
      const contiguous = events.filter((e, i) => e.seq === have + i + 1);
      this.append(jobId, contiguous);
    }
    // Durable in the journal before the old files go; a crash in between migrates again, and
    // the duplicates are skipped by seq on the next load. At open no batch is in flight, so
    // flushSync() may run (it throws otherwise, group-commit.ts).
    this.#commits.flushSync();
    for (const name of names) fs.rmSync(path.join(legacyDir, name), { force: true });
    try {
      fs.rmdirSync(legacyDir);
    } catch {
      // Not empty (a file that is not ours): leave it.
    }
    if (names.length > 0) this.#logger.info("Moved per-job event files into the event journal", { files: names.length });
  }
}

function parseEventLine(text: string): (JobEvent & { jobId: string }) | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const ok = typeof value.jobId === "string" && typeof value.seq === "number" && typeof value.attempt === "number" && typeof value.attemptSeq === "number";
    return ok ? (value as unknown as JobEvent & { jobId: string }) : undefined;
  } catch {
    return undefined;
  }
}
