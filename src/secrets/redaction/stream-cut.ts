// A stream that must pass on part of a line before the line ends (a line too long to hold: a
// process worker's stderr) cuts it where no secret crosses the cut, one rule for every such
// cutter: the last (longest form - 1) characters are held back for the next piece, and the cut
// moves back to the start of a masked range that would straddle it. Every secret that begins
// before the cut then ends inside the text redacted with it, so each piece is masked whole on
// its own, whatever is printed between two pieces.

import { MASK } from "./redaction-scope.ts";
import { applySpans, mergeSpans, type Span } from "./pattern-matcher.ts";

/** What a cutter needs of a redaction (a RedactionScope, or several: unionOf()). */
export interface CutRedaction {
  spans(text: string): Span[];
  /** The longest form masked: how far back from a cut a secret crossing it can begin. */
  readonly longestForm: number;
}

/** Several redactions as one: every range any of them masks. */
export function unionOf(redactions: readonly CutRedaction[]): CutRedaction {
  return {
    spans: (text) => redactions.reduce<Span[]>((all, r) => mergeSpans(all, r.spans(text)), []),
    get longestForm() {
      return redactions.reduce((longest, r) => Math.max(longest, r.longestForm), 0);
    },
  };
}

/**
 * Where to cut `text` (ranges `spans` masked): the end less (longest - 1) characters, or the
 * start of a masked range over that point. 0 when nothing can be passed on yet.
 */
export function safeCut(text: string, spans: readonly Span[], longest: number): number {
  const cut = Math.max(0, text.length - Math.max(0, longest - 1));
  const over = spans.find((span) => span.start < cut && cut < span.end);
  return over === undefined ? cut : over.start;
}

/**
 * Text in, redacted lines out: whole lines masked whole, and a line longer than `maxLine` passed
 * on in pieces cut by safeCut(). Holds at most `maxLine` plus the longest form.
 */
export class RedactedLines {
  #buffer = "";

  constructor(private readonly maxLine: number, private readonly emit: (line: string) => void) {}

  /** `redaction`: the secrets to mask now (a stream's may change between writes). */
  write(text: string, redaction: CutRedaction): void {
    this.#buffer += text;
    const lines = this.#buffer.split("\n");
    this.#buffer = lines.pop() ?? "";
    for (const line of lines) if (line !== "") this.emit(masked(line, redaction.spans(line)));
    while (this.#buffer.length > this.maxLine) {
      const spans = redaction.spans(this.#buffer);
      let cut = safeCut(this.#buffer, spans, redaction.longestForm);
      // Not yet longer than the longest form: wait for more.
      if (cut === 0 && this.#buffer.length < redaction.longestForm) return;
      // A masked range from the very start over the cut (the same secret printed again and
      // again): passed on masked to its end, so the buffer cannot grow without bound.
      if (cut === 0) cut = spans[0]?.end ?? this.#buffer.length;
      this.emit(masked(this.#buffer.slice(0, cut), spans.filter((span) => span.start < cut)));
      this.#buffer = this.#buffer.slice(cut);
    }
  }

  /** The rest, at the stream's end. */
  end(redaction: CutRedaction): void {
    const rest = this.#buffer;
    this.#buffer = "";
    if (rest !== "") this.emit(masked(rest, redaction.spans(rest)));
  }
}

function masked(text: string, spans: Span[]): string {
  return applySpans(text, spans, MASK);
}
