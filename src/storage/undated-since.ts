// When a sweep of this process first saw each attempt whose objects the store lists without a
// date, and each unfinished upload listed without one: the sweeper dates such an attempt or upload
// by that, so it waits the grace period too. What one sweep knew is handed on to the next whole;
// an entry goes only once a sweep has looked at what it names and found it dated, empty or
// deleted, or a complete listing no longer names it. (Rebuilt from what each sweep reached, the
// map forgot every attempt a sweep that failed part-way did not reach: on a store whose walk
// failed every other sweep, an undated orphan was first seen "now" again and again and never deleted.)

import type { UploadInfo } from "./object-store.ts";

/** Attempts and uploads remembered together; one more is dated by the sweep that sees it, so it waits. */
export const MAX_UNDATED_ATTEMPTS = 10_000;

/** Starts every upload's entry; an attempt prefix never does (keySegment() leaves no space in one). */
const UPLOAD = "upload ";

export class UndatedSince {
  readonly #now: number;
  /** For the next sweep: the last one's entries, less those found dated or gone, plus those first seen now. */
  readonly next: Map<string, number>;
  /** Job and attempt prefixes this sweep's listings named, and uploads to keep (undated, or of an attempt in use). */
  readonly #named = new Set<string>();
  /** Runner and job prefixes whose listing of children ended this sweep. */
  readonly #listed = new Set<string>();
  /** Runner prefixes whose listing of unfinished uploads ended this sweep. */
  readonly #uploadsListed = new Set<string>();

  /** `previous`: the last sweep's `next`. */
  constructor(previous: ReadonlyMap<string, number> = new Map(), now: number) {
    this.#now = now;
    this.next = new Map();
    for (const [id, since] of previous) {
      if (this.next.size >= MAX_UNDATED_ATTEMPTS) break;
      this.next.set(id, since);
    }
  }

  /** When a sweep first saw the attempt at `prefix` holding an object without a date. */
  attempt(prefix: string): number {
    return this.#since(prefix);
  }

  /** When a sweep first saw `upload`, listed without a date. */
  upload(upload: UploadInfo): number {
    return this.#since(entryOf(upload));
  }

  /** A job or attempt prefix a listing of this sweep named: what is remembered under it stays when that listing ends. */
  named(prefix: string): void {
    this.#named.add(prefix);
  }

  /** An upload listed this sweep that is to stay remembered (undated and not aborted, or of an attempt in use). */
  keep(upload: UploadInfo): void {
    this.#named.add(entryOf(upload));
  }

  /** The attempt at `prefix` was listed and found dated or empty, or was deleted. */
  forget(prefix: string): void {
    this.next.delete(prefix);
  }

  /**
   * The listing of `parent` ended and named every child: a runner prefix's jobs, a job's
   * attempts, or (`uploads`) the unfinished uploads under a runner prefix. prune() drops what it
   * did not name.
   */
  listed(parent: string, what: "children" | "uploads" = "children"): void {
    (what === "uploads" ? this.#uploadsListed : this.#listed).add(parent);
  }

  /**
   * Drops what this sweep's ended listings under `runnerPrefix` show gone: an attempt under a job
   * the runner prefix's listing did not name, or that its job's listing did not name; an upload
   * the uploads' listing did not keep (listed with a date, aborted, or no longer listed). One pass
   * per runner prefix, at the end of its walk: once per job listing, a walk of thousands of jobs
   * would read the whole map thousands of times.
   */
  prune(runnerPrefix: string): void {
    const walked = this.#listed.has(runnerPrefix);
    const uploadsListed = this.#uploadsListed.has(runnerPrefix);
    for (const id of this.next.keys()) {
      if (id.startsWith(UPLOAD)) {
        if (!uploadsListed || this.#named.has(id)) continue;
        const key = keyOfUpload(id);
        if (key === undefined || key.startsWith(runnerPrefix)) this.next.delete(id);
      } else if (id.startsWith(runnerPrefix)) {
        const job = id.slice(0, id.indexOf("/", runnerPrefix.length) + 1);
        if ((walked && !this.#named.has(job)) || (this.#listed.has(job) && !this.#named.has(id))) this.next.delete(id);
      }
    }
  }

  #since(id: string): number {
    const since = this.next.get(id);
    if (since !== undefined) return since;
    if (this.next.size < MAX_UNDATED_ATTEMPTS) this.next.set(id, this.#now);
    return this.#now;
  }
}

/** A date a store gave (epoch ms): not 0 (none given), NaN or negative. */
export function isDated(ms: number): boolean {
  return Number.isFinite(ms) && ms > 0;
}

/** An upload's entry: JSON, so the key reads back whatever characters a store put in the key or the upload id. */
function entryOf(upload: UploadInfo): string {
  return `${UPLOAD}${JSON.stringify([upload.key, upload.uploadId])}`;
}

/** The key of an upload's entry; undefined for one this file did not make (dropped, not kept for ever). */
function keyOfUpload(id: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(id.slice(UPLOAD.length));
    return Array.isArray(parsed) && typeof parsed[0] === "string" ? parsed[0] : undefined;
  } catch {
    return undefined;
  }
}
