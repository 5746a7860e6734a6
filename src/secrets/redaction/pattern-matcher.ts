// Finds every occurrence of many patterns in one pass (Aho-Corasick over UTF-16 code units), so
// masking a line costs the same with 10 secrets as with 1,000. Nodes live in flat arrays and one
// Map keyed by node and character, which keeps a few hundred thousand nodes cheap.

/** A half-open range [start, end) of a text to mask. */
export interface Span {
  start: number;
  end: number;
}

export class PatternMatcher {
  /** (node * 65536 + charCode) → child node. */
  readonly #edges = new Map<number, number>();
  #fail: Int32Array;
  /** Length of the longest pattern that ends at this node (itself or through fail links); 0 if none. */
  #out: Int32Array;
  #depth: Int32Array;
  readonly size: number;

  constructor(patterns: Iterable<string>) {
    const depth: number[] = [0];
    const terminal: number[] = [0];
    let count = 0;
    for (const pattern of patterns) {
      if (pattern.length === 0) continue;
      count++;
      let node = 0;
      for (let i = 0; i < pattern.length; i++) {
        const key = node * 65536 + pattern.charCodeAt(i);
        let next = this.#edges.get(key);
        if (next === undefined) {
          next = depth.length;
          depth.push(depth[node]! + 1);
          terminal.push(0);
          this.#edges.set(key, next);
        }
        node = next;
      }
      terminal[node] = pattern.length;
    }
    this.size = count;
    const nodes = depth.length;
    this.#depth = Int32Array.from(depth);
    this.#fail = new Int32Array(nodes);
    this.#out = new Int32Array(nodes);
    // Children per node, for the breadth-first pass that sets fail links.
    const children: Array<Array<[number, number]>> = Array.from({ length: nodes }, () => []);
    for (const [key, child] of this.#edges) children[Math.floor(key / 65536)]!.push([key % 65536, child]);
    const queue: number[] = [];
    for (const [, child] of children[0]!) {
      this.#fail[child] = 0;
      this.#out[child] = terminal[child]!;
      queue.push(child);
    }
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head]!;
      for (const [code, child] of children[node]!) {
        let f = this.#fail[node]!;
        let target = this.#edges.get(f * 65536 + code);
        while (target === undefined && f !== 0) {
          f = this.#fail[f]!;
          target = this.#edges.get(f * 65536 + code);
        }
        const failTo = target !== undefined && target !== child ? target : 0;
        this.#fail[child] = failTo;
        this.#out[child] = Math.max(terminal[child]!, this.#out[failTo]!);
        queue.push(child);
      }
    }
  }

  #step(node: number, code: number): number {
    for (;;) {
      const next = this.#edges.get(node * 65536 + code);
      if (next !== undefined) return next;
      if (node === 0) return 0;
      node = this.#fail[node]!;
    }
  }

  /**
   * Every range of `text` covered by a pattern, merged where they overlap or touch, in order.
   * `openTail` also covers a trailing part of at least that many characters that begins a
   * pattern (a secret cut by the end of a chunk).
   */
  spans(text: string, openTail = 0): Span[] {
    const spans: Span[] = [];
    if (this.size === 0) return spans;
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      node = this.#step(node, text.charCodeAt(i));
      const length = this.#out[node]!;
      if (length > 0) pushSpan(spans, i + 1 - length, i + 1);
    }
    if (openTail > 0 && this.#depth[node]! >= openTail) pushSpan(spans, text.length - this.#depth[node]!, text.length);
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
