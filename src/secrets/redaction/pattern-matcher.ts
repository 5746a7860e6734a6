// Finds every occurrence of many patterns in one pass (Aho-Corasick over UTF-16 code units), so
// masking a line costs the same with 10 secrets as with 1,000. Nodes live in typed arrays (a
// node's children as a sibling list), which keeps millions of nodes cheap to build.

/** A half-open range [start, end) of a text to mask. */
export interface Span {
  start: number;
  end: number;
}

/** Nodes this deep or shallower have a dense ASCII transition row (see the constructor). */
const DENSE_DEPTH = 3;

export class PatternMatcher {
  /**
   * Children of nodes other than the root, as sibling lists: a node's first child, each child's
   * next sibling and its char code (-1: none). Below the root a node has one or two children, so
   * a list is as fast to search as a hash and far cheaper to build: a Map keyed by node and char
   * cost about 3 µs a node, seconds for one long secret with its ~30 encoded forms (the fuzz,
   * test/fuzz/plugin-messages.test.ts).
   */
  #firstChild: Int32Array;
  #nextSibling: Int32Array;
  #code: Uint16Array;
  /** The root's children by char code (-1: none): most characters of a log line stop here. */
  readonly #root = new Int32Array(65536).fill(-1);
  #fail: Int32Array;
  /** Shallow nodes' full transitions (fail links followed) for ASCII: row per node, -1 none. */
  #denseRow: Int32Array;
  #dense: Int32Array;
  /** Length of the longest pattern that ends at this node (itself or through fail links); 0 if none. */
  #out: Int32Array;
  #depth: Int32Array;
  readonly size: number;

  /** How many matchers this process has built (tests check that a job without secrets builds none). */
  static built = 0;

  constructor(patterns: Iterable<string>) {
    PatternMatcher.built++;
    const list = [...patterns];
    // At most one node per pattern character, plus the root.
    let capacity = 1;
    for (const pattern of list) capacity += pattern.length;
    this.#firstChild = new Int32Array(capacity).fill(-1);
    this.#nextSibling = new Int32Array(capacity).fill(-1);
    this.#code = new Uint16Array(capacity);
    const depth = new Int32Array(capacity);
    const terminal = new Int32Array(capacity);
    let nodes = 1;
    /** The root's child codes, so the pass below need not scan 65,536 entries (~8 ms cold, at every start). */
    const rootCodes: number[] = [];
    let count = 0;
    for (const pattern of list) {
      if (pattern.length === 0) continue;
      count++;
      let node = 0;
      for (let i = 0; i < pattern.length; i++) {
        const code = pattern.charCodeAt(i);
        let next = this.#child(node, code);
        if (next === undefined) {
          next = nodes++;
          depth[next] = depth[node]! + 1;
          if (node === 0) {
            this.#root[code] = next;
            rootCodes.push(code);
          }
          else {
            this.#code[next] = code;
            this.#nextSibling[next] = this.#firstChild[node]!;
            this.#firstChild[node] = next;
          }
        }
        node = next;
      }
      terminal[node] = pattern.length;
    }
    this.size = count;
    this.#depth = depth.slice(0, nodes);
    this.#fail = new Int32Array(nodes);
    this.#out = new Int32Array(nodes);
    const queue: number[] = [];
    for (const code of rootCodes.sort((a, b) => a - b)) {
      const child = this.#root[code]!;
      this.#out[child] = terminal[child]!;
      queue.push(child);
    }
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head]!;
      for (let child = this.#firstChild[node]!; child >= 0; child = this.#nextSibling[child]!) {
        const code = this.#code[child]!;
        let f = this.#fail[node]!;
        let target = this.#child(f, code);
        while (target === undefined && f !== 0) {
          f = this.#fail[f]!;
          target = this.#child(f, code);
        }
        const failTo = target !== undefined && target !== child ? target : 0;
        this.#fail[child] = failTo;
        this.#out[child] = Math.max(terminal[child]!, this.#out[failTo]!);
        queue.push(child);
      }
    }
    // The root and nodes up to DENSE_DEPTH get a full ASCII transition row, filled in breadth-first
    // order so a node's fail target (shallower) is always filled before it: a log line that brushes
    // against the first characters of many secrets then costs one array read per character.
    this.#denseRow = new Int32Array(nodes).fill(-1);
    const dense: number[] = [];
    let rows = 0;
    for (const node of [0, ...queue]) {
      if (this.#depth[node]! > DENSE_DEPTH) continue;
      const row = rows++;
      this.#denseRow[node] = row;
      const failRow = node === 0 ? -1 : this.#denseRow[this.#fail[node]!]!;
      for (let code = 0; code < 128; code++) {
        const child = this.#child(node, code);
        dense[row * 128 + code] = child !== undefined ? child : failRow < 0 ? 0 : dense[failRow * 128 + code]!;
      }
    }
    this.#dense = Int32Array.from(dense);
  }

  #child(node: number, code: number): number | undefined {
    if (node === 0) {
      const next = this.#root[code]!;
      return next < 0 ? undefined : next;
    }
    for (let child = this.#firstChild[node]!; child >= 0; child = this.#nextSibling[child]!) {
      if (this.#code[child] === code) return child;
    }
    return undefined;
  }

  #step(node: number, code: number): number {
    if (code < 128) {
      const row = this.#denseRow[node]!;
      if (row >= 0) return this.#dense[row * 128 + code]!;
    }
    for (;;) {
      const next = this.#child(node, code);
      if (next !== undefined) return next;
      if (node === 0) return 0;
      node = this.#fail[node]!;
    }
  }

  /** How many trailing characters of the text scanned up to `state` begin a pattern. */
  depth(state: number): number {
    return this.#depth[state] ?? 0;
  }

  /** Scans `text` from `state`, adding every pattern's range to `spans`; returns the end state. */
  scan(text: string, spans: Span[], state = 0): number {
    if (this.size === 0) return 0;
    // Locals, not private fields, in the hot loop: this is the per-character cost of every log line.
    const dense = this.#dense;
    const denseRow = this.#denseRow;
    const out = this.#out;
    let node = state;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      const row = code < 128 ? denseRow[node]! : -1;
      node = row >= 0 ? dense[row * 128 + code]! : this.#step(node, code);
      const length = out[node]!;
      if (length > 0) pushSpan(spans, i + 1 - length, i + 1);
    }
    return node;
  }

  /**
   * Continues from `state` (the end of the piece before) through `join` and `piece`, adding the
   * part inside `piece` of every pattern that began before it. Stops as soon as no pattern can.
   * Returns the state at the end of `piece` when a pattern that began before it is still open
   * there (the piece is all middle: a secret printed in three or more pieces), else -1.
   */
  straddle(state: number, join: string, piece: string, spans: Span[]): number {
    let node = state;
    const total = join.length + piece.length;
    for (let i = 0; i < total; i++) {
      node = this.#step(node, i < join.length ? join.charCodeAt(i) : piece.charCodeAt(i - join.length));
      const consumed = i + 1;
      const length = this.#out[node]!;
      if (length > 0 && consumed > join.length && consumed - length < join.length) {
        pushSpan(spans, 0, consumed - join.length);
      }
      // The longest candidate now starts inside the piece: nothing that began before can follow.
      if (consumed - this.#depth[node]! >= join.length) return -1;
    }
    return node;
  }

  /**
   * Every range of `text` covered by a pattern, merged where they overlap or touch, in order.
   * `openTail` also covers a trailing part of at least that many characters that begins a
   * pattern (a secret cut by the end of a chunk).
   */
  spans(text: string, openTail = 0): Span[] {
    const spans: Span[] = [];
    const end = this.scan(text, spans);
    if (openTail > 0 && this.#depth[end]! >= openTail) pushSpan(spans, text.length - this.#depth[end]!, text.length);
    return spans;
  }
}

/** Adds a span, merging it into the last one when they overlap (spans arrive ordered by end). */
export function pushSpan(spans: Span[], start: number, end: number): void {
  let last = spans[spans.length - 1];
  if (last !== undefined && start <= last.end) {
    // A longer match ending later may start before earlier spans: fold them all in.
    while (last !== undefined && start <= last.end) {
      spans.pop();
      start = Math.min(start, last.start);
      end = Math.max(end, last.end);
      last = spans[spans.length - 1];
    }
  }
  spans.push({ start, end });
}

/** Merges two ordered span lists. */
export function mergeSpans(a: Span[], b: Span[]): Span[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const all = [...a, ...b].sort((x, y) => x.start - y.start);
  const out: Span[] = [];
  for (const span of all) {
    const last = out[out.length - 1];
    if (last !== undefined && span.start <= last.end) last.end = Math.max(last.end, span.end);
    else out.push({ ...span });
  }
  return out;
}

/** Replaces each span with `mask`. */
export function applySpans(text: string, spans: Span[], mask: string): string {
  if (spans.length === 0) return text;
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + mask;
    at = span.end;
  }
  return out + text.slice(at);
}
