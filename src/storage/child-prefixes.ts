// The prefixes one level below a parent prefix, read off a store's Delimiter listing: from its
// common prefixes, and from keys below the level when the store does not answer the delimiter as
// S3 does (some S3-compatible stores ignore it and return every key; s3rver reports no common
// prefix for a prefix holding only nested keys). The sweeper deletes under what this yields, so
// anything but one plain segment below the parent is refused.

/** What one name from a listing says about the parent's children. */
export type ChildName =
  | { state: "child"; prefix: string }
  /** A key directly under the parent: no child. */
  | { state: "at_level" }
  /** Outside the parent, more or less than one segment, or an empty, "." or ".." segment. */
  | { state: "refused" };

/** A common prefix the store answered for `parent`: `<parent><segment>/` or refused. */
export function childOfPrefix(parent: string, prefix: string): ChildName {
  if (!prefix.startsWith(parent) || !prefix.endsWith("/")) return { state: "refused" };
  const segment = prefix.slice(parent.length, -1);
  return plainSegment(segment) ? { state: "child", prefix } : { state: "refused" };
}

/** A key the store answered under `parent`: the child it lies in, at the parent's level, or refused. */
export function childOfKey(parent: string, key: string): ChildName {
  if (!key.startsWith(parent)) return { state: "refused" };
  const rest = key.slice(parent.length);
  const slash = rest.indexOf("/");
  if (slash === -1) return { state: "at_level" };
  const segment = rest.slice(0, slash);
  return plainSegment(segment) ? { state: "child", prefix: `${parent}${segment}/` } : { state: "refused" };
}

function plainSegment(segment: string): boolean {
  return segment !== "" && segment !== "." && segment !== ".." && !segment.includes("/");
}

/**
 * Prefixes already handed out, so a child derived from many keys is yielded once. Remembers up to
 * `max` of them (memory stays bounded whatever the store answers) and, past that, the last one:
 * S3 lists keys in order, so a child's keys come together; a repeat past the bound only makes
 * the sweeper look at a prefix twice.
 */
export class YieldedPrefixes {
  readonly #seen = new Set<string>();
  readonly #max: number;
  #last: string | undefined;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** True the first time `prefix` is offered (as far as remembered), and remembers it. */
  first(prefix: string): boolean {
    if (prefix === this.#last || this.#seen.has(prefix)) return false;
    this.#last = prefix;
    if (this.#seen.size < this.#max) this.#seen.add(prefix);
    return true;
  }
}
