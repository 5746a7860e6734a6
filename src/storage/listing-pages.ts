// The page markers of one paginated S3 listing (ListObjectsV2's continuation token, the
// key/upload-id markers of ListMultipartUploads), checked as the pages come: a store that repeats
// a marker (or never stops) would make cleanup, and so the job's result, wait forever, and one
// that says "truncated" without a marker would end the listing early and count a half-done
// deletion as done. One check for every listing the S3 backend pages through.

/** Why a listing was refused; the caller words the error for its own listing. */
export type PageProblem = "too_many_pages" | "no_marker" | "repeated_marker";

export class ListingPages {
  readonly #seen = new Set<string>();
  readonly #maxPages: number;
  readonly #refuse: (problem: PageProblem) => Error;

  /** `maxPages`: pages the listing may take; `refuse` makes the error thrown for a problem. */
  constructor(maxPages: number, refuse: (problem: PageProblem) => Error) {
    this.#maxPages = maxPages;
    this.#refuse = refuse;
  }

  /**
   * Called after each page with its truncated flag and marker (undefined or "" when it gave none):
   * undefined when the listing is complete, else the marker to ask the next page with. Throws
   * the caller's error for a missing or repeated marker, or when the next page would be one past
   * maxPages.
   */
  next(truncated: boolean | undefined, marker: string | undefined): string | undefined {
    if (truncated !== true) return undefined;
    if (marker === undefined || marker === "") throw this.#refuse("no_marker");
    if (this.#seen.has(marker)) throw this.#refuse("repeated_marker");
    this.#seen.add(marker);
    if (this.#seen.size >= this.#maxPages) throw this.#refuse("too_many_pages");
    return marker;
  }
}
