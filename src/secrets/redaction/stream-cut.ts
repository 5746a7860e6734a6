// A stream that must pass on part of a line before the line ends (a line too long to hold: a
// process worker's stderr) cuts it where no secret crosses the cut, one rule for every such
// cutter: a piece ends at the line's end or after `maxLine` characters, or earlier at the start of
// a masked range that would straddle that point. The cut is chosen only once (longest form - 1)
// characters past it are in, 12 times that where the text may hold escapes (or the line has
// ended), so every secret that begins before the cut ends inside the text redacted with it (but
// one escaped more than MAX_ESCAPE_EXPANSION times), and each piece is masked whole on its own, whatever is
// printed between two pieces. The pieces depend on the text alone, never on how it was chunked:
// a pipe read in one piece or in ten gives the same pieces (and the same log records).

import { MASK } from "./redaction-scope.ts";
import { applySpans, mergeSpans, type Span } from "./pattern-matcher.ts";
import { mayHoldEscapes } from "./decoded-view.ts";
import { MIN_SECRET_CHARS } from "./secret-forms.ts";

/**
 * How many characters of text one character of a masked form can take once escaped, decoded twice
 * (decoded-view.ts): `&amp;#x2f;` is 10, `%25F0%259F%2598%2580` 20 for a surrogate pair. A cut
 * in text that may hold escapes looks this much further ahead, or an escaped secret that begins
 * before the cut could end past what was in view and be printed in two unmasked halves.
 */
const MAX_ESCAPE_EXPANSION = 12;
/** How many redactions a held line remembers (a line held across more runs than this is rare). */
const MAX_HELD_REDACTIONS = 32;

/** What a cutter needs of a redaction (a RedactionScope, or several: unionOf()). */
export interface CutRedaction {
  /** `openTail`: also a trailing part of that many characters or more that begins a secret (RedactionScope.spans()). */
  spans(text: string, openTail?: number): Span[];
  /** The longest form masked: how far back from a cut a secret crossing it can begin. */
  readonly longestForm: number;
}

/** A union's parts, so a union of unions is flat and a part seen twice counts once. */
interface Union extends CutRedaction {
  readonly parts: readonly CutRedaction[];
}

/** Several redactions as one: every range any of them masks. */
export function unionOf(redactions: readonly CutRedaction[]): CutRedaction {
  const parts = [...new Set(redactions.flatMap(partsOf))];
  const union: Union = {
    parts,
    spans: (text, openTail) => parts.reduce<Span[]>((all, r) => mergeSpans(all, r.spans(text, openTail)), []),
    get longestForm() {
      return parts.reduce((longest, r) => Math.max(longest, r.longestForm), 0);
    },
  };
  return union;
}

function partsOf(redaction: CutRedaction): readonly CutRedaction[] {
  return (redaction as Partial<Union>).parts ?? [redaction];
}

/** `at`, or the start of a masked range over it. */
function cutOutside(at: number, spans: readonly Span[]): number {
  const over = spans.find((span) => span.start < at && at < span.end);
  return over === undefined ? at : over.start;
}

/**
 * Text in, redacted lines out: a line of at most `maxLine` characters masked whole, and a longer
 * one passed on in pieces of at most `maxLine` (see the rule above; a piece that is one masked
 * range from its start runs to that range's end). Holds at most `maxLine` plus the look-ahead: the
 * longest form, or 12 times it in text that may hold escapes.
 */
export class RedactedLines {
  #buffer = "";
  /**
   * The redactions of every write since the oldest character held: held text is masked with the
   * secrets in force when it came too (a job's, after the next job took the worker), not only with
   * those of the write that ends its line.
   */
  #held: readonly CutRedaction[] = [];

  constructor(private readonly maxLine: number, private readonly emit: (line: string) => void) {}

  /** `redaction`: the secrets to mask now (a stream's may change between writes). */
  write(text: string, redaction: CutRedaction): void {
    // What is held has no line end (#drain passes on every line): only the new text is searched.
    const held = this.#buffer.length;
    this.#buffer += text;
    this.#buffer = this.#drain(this.#buffer, held, false, this.#with(held, redaction));
  }

  /** The rest, at the stream's end. */
  end(redaction: CutRedaction): void {
    const rest = this.#buffer;
    const all = this.#with(rest.length, redaction);
    this.#buffer = "";
    this.#held = [];
    this.#drain(rest, 0, true, all);
  }

  /** `redaction` and, while text is held, those of the writes that brought it. */
  #with(held: number, redaction: CutRedaction): CutRedaction {
    const parts = held === 0 ? partsOf(redaction) : [...new Set([...this.#held, ...partsOf(redaction)])];
    this.#held = parts.length > MAX_HELD_REDACTIONS ? parts.slice(-MAX_HELD_REDACTIONS) : parts;
    return this.#held.length === 1 ? this.#held[0]! : unionOf(this.#held);
  }

  /**
   * Passes on every line and piece `text` holds (no line end before `searchFrom`; `ended`: the
   * stream's end closes its last line); returns the rest.
   */
  #drain(text: string, searchFrom: number, ended: boolean, redaction: CutRedaction): string {
    // A cut at maxLine is chosen with this many characters after it in view: enough to know that
    // the line goes on, and to see whole every secret that begins before the cut. Escaped, a secret
    // is longer: where the text in view may hold an escape, the view is that much longer. (Where
    // it holds none up to maxLine + plain, a secret beginning before the cut is whole in view.)
    const longest = redaction.longestForm;
    const plain = Math.max(1, longest - 1);
    const escaped = Math.max(1, longest * MAX_ESCAPE_EXPANSION - 1);
    let from = 0;
    let newline = text.indexOf("\n", searchFrom);
    while (from < text.length) {
      const closed = newline !== -1 || ended;
      const length = (newline === -1 ? text.length : newline) - from;
      if (closed && length <= this.maxLine) {
        const line = text.slice(from, from + length);
        // A line that ends with a secret's first 4 or more characters has them masked: a plugin
        // may have cut the line there (a console line past the worker's 16 KiB), and the runner
        // cannot tell such an end from a whole one (as for a job's text, job-text.ts).
        if (line !== "") this.emit(masked(line, redaction.spans(line, MIN_SECRET_CHARS)));
        from += length + 1;
        newline = text.indexOf("\n", from);
        continue;
      }
      const lookahead = mayHoldEscapes(text.slice(from, from + this.maxLine + escaped)) ? escaped : plain;
      // Too long for one piece, but the cut cannot be chosen yet: wait for more.
      if (!closed && length < this.maxLine + lookahead) break;
      const window = text.slice(from, from + Math.min(length, this.maxLine + lookahead));
      const spans = redaction.spans(window);
      let cut = cutOutside(this.maxLine, spans);
      // A masked range from the very start over the cut (one secret longer than a piece, or the
      // same one printed again and again): passed on masked to its end, so nothing is held without bound.
      if (cut === 0) cut = spans[0]?.end ?? this.maxLine;
      this.emit(masked(window.slice(0, cut), spans.filter((span) => span.start < cut)));
      from += cut;
    }
    return from >= text.length ? "" : text.slice(from);
  }
}

function masked(text: string, spans: Span[]): string {
  return applySpans(text, spans, MASK);
}
