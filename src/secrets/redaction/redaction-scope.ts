// Redaction belongs to a scope: the process scope holds the runner's own secrets (API key,
// backend tokens); each job gets a child scope when it starts, holding that job's secrets, and
// drops it when it ends. A job's text is masked with its own secrets and the process's; the
// runner's own output (logs, /status, /metrics) with the process's and every live job's. So the
// cost of a line never grows with secrets of jobs that have finished.

import { decodedView, mayHoldEscapes } from "./decoded-view.ts";
import { applySpans, mergeSpans, PatternMatcher, pushSpan, type Span } from "./pattern-matcher.ts";
import { MIN_SECRET_CHARS, secretForms } from "./secret-forms.ts";

export const MASK = "[REDACTED]";
/** The matcher of every scope without secrets, built at the first such use (not at start-up). */
let emptyMatcher: PatternMatcher | undefined;
/** Fields whose names look secret are masked whatever their value. */
const SECRET_FIELD = /(secret|password|passwd|token|api[-_]?key|authorization|private[-_]?key|credential)/i;
/** value() stops walking past this depth (a hostile object cannot blow the stack). */
const MAX_DEPTH = 64;
/**
 * Bumped by every change to any scope's values or live children: a scope's list of matchers is
 * cached until the next change (the runner redacts each log record's message and every field, and
 * building the list per call showed in its profile, issue 15).
 */
let generation = 0;
/** How two pieces of a stream may have been joined: directly (chunks) or by a line break. */
const JOINS = ["", "\n", "\r\n"];
/**
 * A scope alone looks for each of its forms with includes() before it builds a matcher
 * (#holdsNoForm) while forms × text length stays under this (a line of 200 characters against
 * 20 secrets' forms; ~0.1 ms at worst): past it, one pass of the matcher is cheaper.
 */
const MAX_SEARCH_WITHOUT_MATCHER = 131_072;
/** States carried from one line to the next per matcher, at most (each join may open one). */
const MAX_CARRIED = 6;

export class RedactionScope {
  readonly name: string;
  readonly #parent: RedactionScope | undefined;
  /** value → its forms, so remove() can drop them again. */
  readonly #values = new Map<string, string[]>();
  readonly #live = new Set<RedactionScope>();
  #matcher: PatternMatcher | undefined;
  #longest = 0;
  #disposed = false;
  /**
   * Per matcher, the states a secret may continue from into the next line of this scope's stream
   * (see line()): the end of the last line scanned alone, and of secrets still open across it.
   */
  #lineStates = new Map<PatternMatcher, number[]>();
  #matcherList: PatternMatcher[] = [];
  #matcherListGeneration = -1;

  constructor(options: { name?: string; parent?: RedactionScope } = {}) {
    this.name = options.name ?? "process";
    this.#parent = options.parent;
  }

  /** A scope for one job, live (masked in the runner's own output too) until dispose(). */
  child(name: string): RedactionScope {
    const scope = new RedactionScope({ name, parent: this });
    this.#live.add(scope);
    generation++;
    return scope;
  }

  /**
   * Ends the scope: its parent (and so the runner's own output and every other job) stops
   * masking its secrets, and it takes no new ones. Whoever still holds the scope (a worker that
   * may print after the run) can still mask with it; the values go with the last reference.
   */
  dispose(): void {
    this.#disposed = true;
    if (this.#parent !== undefined && this.#parent.#live.delete(this)) generation++;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Registers a secret value (and its encoded forms); values under 4 characters are ignored. */
  add(value: string | undefined): void {
    if (this.#disposed || typeof value !== "string" || value.length < MIN_SECRET_CHARS || this.#values.has(value)) return;
    this.#values.set(value, secretForms(value));
    this.#matcher = undefined;
    generation++;
  }

  remove(value: string): void {
    if (!this.#values.delete(value)) return;
    this.#matcher = undefined;
    generation++;
  }

  /** How many values this scope holds (not counting its parent or children). */
  get count(): number {
    return this.#values.size;
  }

  /** The longest form this scope or its parent masks: how far back a split secret can start. */
  get longestForm(): number {
    this.#own();
    return Math.max(this.#longest, this.#parent?.longestForm ?? 0);
  }

  /** Ranges of `text` to mask. `openTail`: also a trailing part of that many characters or more that begins a secret. */
  spans(text: string, openTail = 0): Span[] {
    let spans: Span[] = [];
    const matchers = this.#matchers();
    for (const matcher of matchers) spans = mergeSpans(spans, matcher.spans(text, openTail));
    return mayHoldEscapes(text) ? mergeSpans(spans, escapedSpans(text, matchers)) : spans;
  }

  /** The matchers this scope masks with: its own and its parent's; the process scope's own and every live job's. */
  #matchers(): PatternMatcher[] {
    if (this.#matcherListGeneration === generation) return this.#matcherList;
    const out = [this.#own()];
    if (this.#parent !== undefined) out.push(this.#parent.#own());
    else for (const child of this.#live) out.push(child.#own());
    this.#matcherList = out.filter((m) => m.size > 0);
    this.#matcherListGeneration = generation;
    return this.#matcherList;
  }

  text(input: string): string {
    if (typeof input !== "string" || input.length === 0) return input;
    if (this.#holdsNoForm(input)) return input;
    const matchers = this.#matchers();
    if (matchers.length === 0) return input;
    if (matchers.length === 1 && !mayHoldEscapes(input)) return applySpans(input, (matchers[0] as PatternMatcher).spans(input, 0), MASK);
    return applySpans(input, this.spans(input), MASK);
  }

  /**
   * The next line (or chunk) of this scope's log stream: also masks a secret split across it and
   * the line before, or cut off at its end (see line-stream.ts).
   */
  line(input: string): string {
    if (typeof input !== "string") return input;
    let spans: Span[] = [];
    const states = new Map<PatternMatcher, number[]>();
    for (const matcher of this.#matchers()) {
      const own: Span[] = [];
      const carried: number[] = [];
      // A secret that began in a line before (printed in two or more chunks or lines).
      for (const before of this.#lineStates.get(matcher) ?? []) {
        for (const join of JOINS) {
          const open = matcher.straddle(before, join, input, own);
          if (open < 0) continue;
          // All of this line continues it: masked whole once what came so far is long enough
          // to be told from ordinary text, and carried on to the next line.
          if (input.length > 0 && matcher.depth(open) >= MIN_SECRET_CHARS) pushSpan(own, 0, input.length);
          if (!carried.includes(open) && carried.length < MAX_CARRIED) carried.push(open);
        }
      }
      const end = matcher.scan(input, own);
      // A line that ends with the start of a secret: the rest may come next, and this part
      // cannot be called back once sent.
      const open = matcher.depth(end);
      if (open >= MIN_SECRET_CHARS) pushSpan(own, input.length - open, input.length);
      if (end !== 0 && !carried.includes(end)) carried.push(end);
      if (carried.length > 0) states.set(matcher, carried);
      spans = mergeSpans(spans, own.sort((a, b) => a.start - b.start));
    }
    this.#lineStates = states;
    if (mayHoldEscapes(input)) spans = mergeSpans(spans, escapedSpans(input, this.#matchers()));
    return applySpans(input, spans, MASK);
  }

  /**
   * Text that may have been cut to size before the runner saw it (a plugin's message sliced to
   * 500 characters): as text(), and a trailing part of MIN_SECRET_CHARS or more that begins a
   * secret is masked too, the rest of which the cut took away. Every step, error and output of a
   * plugin leaves the runner through it (src/plugins/job-text.ts).
   */
  cutText(input: string): string {
    return input.length === 0 || this.#matchers().length === 0 ? input : applySpans(input, this.spans(input, MIN_SECRET_CHARS), MASK);
  }

  /** Masks strings anywhere in a JSON-like value, and whole fields whose names look secret. */
  value(input: unknown, key = "", depth = 0): unknown {
    if (SECRET_FIELD.test(key) && input !== null && input !== undefined && input !== "") return MASK;
    if (typeof input === "string") return this.text(input);
    if (input === null || typeof input !== "object") return input;
    if (depth >= MAX_DEPTH) return MASK;
    if (Array.isArray(input)) return input.map((item) => this.value(item, "", depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) out[this.text(k)] = this.value(v, k, depth + 1);
    return out;
  }

  /**
   * Masks registered values in every string and key of a JSON-like value, without value()'s
   * field-name rule (a job's output field named "tokenCount" is data, not a secret), and passes
   * `keep(entry)` entries through untouched (sensitive outputs, which the controller seals).
   */
  strings(input: unknown, keep: (entry: unknown) => boolean = () => false, depth = 0): unknown {
    // A value that ends with the first characters of a secret (4 or more) has them masked too: a
    // plugin may have cut its output to size before the runner saw it (the http built-in's body).
    if (typeof input === "string") return this.cutText(input);
    if (input === null || typeof input !== "object") return input;
    if (depth >= MAX_DEPTH) return MASK;
    if (Array.isArray(input)) return input.map((item) => this.strings(item, () => false, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) out[depth === 0 && keep(v) ? k : this.text(k)] = depth === 0 && keep(v) ? v : this.strings(v, () => false, depth + 1);
    return out;
  }

  /**
   * True when `input` cannot hold a secret of this scope, told without building its matcher: the
   * scope stands alone (no parent, no live job), its matcher is not built yet, its forms are few
   * for the length of `input`, none of them is in it, and it has no escapes to decode. text()
   * gives the same answer with the matcher, whose cold build (~2-4 ms of CPU) a runner's start
   * paid for its first log line or /readyz answer before it was ready (issue 15,
   * docs/performance.md start-up). The first text that holds a form, or the first job, builds it.
   */
  #holdsNoForm(input: string): boolean {
    if (this.#matcher !== undefined || this.#parent !== undefined || this.#live.size > 0) return false;
    if (mayHoldEscapes(input)) return false;
    let forms = 0;
    for (const list of this.#values.values()) {
      forms += list.length;
      if (forms * input.length > MAX_SEARCH_WITHOUT_MATCHER) return false;
    }
    for (const list of this.#values.values()) {
      for (const form of list) if (input.includes(form)) return false;
    }
    return true;
  }

  #own(): PatternMatcher {
    if (this.#matcher === undefined) {
      const forms: string[] = [];
      let longest = 0;
      for (const list of this.#values.values()) {
        for (const form of list) {
          forms.push(form);
          if (form.length > longest) longest = form.length;
        }
      }
      // Most jobs have no secrets: they share one empty matcher instead of building their own
      // (a matcher's root row is 256 KiB to allocate and fill; issue 15, the runner's profile).
      this.#matcher = forms.length === 0 ? (emptyMatcher ??= new PatternMatcher([])) : new PatternMatcher(forms);
      this.#longest = longest;
    }
    return this.#matcher;
  }
}

/** Ranges of `text` whose decoded form (percent, backslash or HTML escapes) holds a secret. */
function escapedSpans(text: string, matchers: PatternMatcher[]): Span[] {
  const view = decodedView(text);
  if (view === undefined) return [];
  const spans: Span[] = [];
  for (const matcher of matchers) {
    for (const span of matcher.spans(view.text)) spans.push({ start: view.from[span.start]!, end: view.to[span.end - 1]! });
  }
  // Sorted and merged: mergeSpans() does both when given two lists.
  return spans.length < 2 ? spans : mergeSpans(spans.slice(0, 1), spans.slice(1));
}

/** The process scope: the runner's own secrets, parent of every job's scope. */
export const processRedaction = new RedactionScope({ name: "process" });
