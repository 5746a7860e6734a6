// Redaction belongs to a scope: the process scope holds the runner's own secrets (API key,
// backend tokens); each job gets a child scope when it starts, holding that job's secrets, and
// drops it when it ends. A job's text is masked with its own secrets and the process's; the
// runner's own output (logs, /status, /metrics) with the process's and every live job's. So the
// cost of a line never grows with secrets of jobs that have finished.

import { applySpans, mergeSpans, PatternMatcher, type Span } from "./pattern-matcher.ts";
import { MIN_SECRET_CHARS, secretForms } from "./secret-forms.ts";

export const MASK = "[REDACTED]";
/** Fields whose names look secret are masked whatever their value. */
const SECRET_FIELD = /(secret|password|passwd|token|api[-_]?key|authorization|private[-_]?key|credential)/i;
/** value() stops walking past this depth (a hostile object cannot blow the stack). */
const MAX_DEPTH = 64;

export class RedactionScope {
  readonly name: string;
  readonly #parent: RedactionScope | undefined;
  /** value → its forms, so remove() can drop them again. */
  readonly #values = new Map<string, string[]>();
  readonly #live = new Set<RedactionScope>();
  #matcher: PatternMatcher | undefined;
  #longest = 0;
  #disposed = false;

  constructor(options: { name?: string; parent?: RedactionScope } = {}) {
    this.name = options.name ?? "process";
    this.#parent = options.parent;
  }

  /** A scope for one job, live (masked in the runner's own output too) until dispose(). */
  child(name: string): RedactionScope {
    const scope = new RedactionScope({ name, parent: this });
    this.#live.add(scope);
    return scope;
  }

  /** Drops the scope's secrets; its parent stops masking them. */
  dispose(): void {
    this.#disposed = true;
    this.#values.clear();
    this.#matcher = undefined;
    if (this.#parent !== undefined) this.#parent.#live.delete(this);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Registers a secret value (and its encoded forms); values under 4 characters are ignored. */
  add(value: string | undefined): void {
    if (this.#disposed || typeof value !== "string" || value.length < MIN_SECRET_CHARS || this.#values.has(value)) return;
    this.#values.set(value, secretForms(value));
    this.#matcher = undefined;
  }

  remove(value: string): void {
    if (this.#values.delete(value)) this.#matcher = undefined;
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
    let spans = this.#own().spans(text, openTail);
    if (this.#parent !== undefined) spans = mergeSpans(spans, this.#parent.#own().spans(text, openTail));
    // The process scope also masks every live job's secrets in the runner's own output.
    if (this.#parent === undefined) for (const child of this.#live) spans = mergeSpans(spans, child.#own().spans(text, openTail));
    return spans;
  }

  text(input: string): string {
    if (typeof input !== "string" || input.length === 0) return input;
    return applySpans(input, this.spans(input), MASK);
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
      this.#matcher = new PatternMatcher(forms);
      this.#longest = longest;
    }
    return this.#matcher;
  }
}

/** The process scope: the runner's own secrets, parent of every job's scope. */
export const processRedaction = new RedactionScope({ name: "process" });
