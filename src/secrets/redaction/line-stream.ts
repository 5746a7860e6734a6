// Masks a stream of log chunks or lines of one job, including a secret split across two of them
// (written in two chunks, or printed over two lines): each piece is matched together with the
// end of the one before, and a piece's end that begins a secret is masked before it goes out,
// since the piece before cannot be called back once sent.

import { applySpans, mergeSpans, type Span } from "./pattern-matcher.ts";
import { MASK, type RedactionScope } from "./redaction-scope.ts";
import { MIN_SECRET_CHARS } from "./secret-forms.ts";

/** How pieces may have been joined: directly (chunks) or by a line break (lines). */
const JOINS = ["", "\n", "\r\n"];

export class LineStreamRedactor {
  readonly #scope: RedactionScope;
  #tail = "";

  constructor(scope: RedactionScope) {
    this.#scope = scope;
  }

  /** The masked form of the next piece. */
  next(piece: string): string {
    let spans: Span[] = this.#scope.spans(piece, MIN_SECRET_CHARS);
    if (this.#tail.length > 0) {
      for (const join of JOINS) {
        const offset = this.#tail.length + join.length;
        const straddling: Span[] = [];
        for (const span of this.#scope.spans(this.#tail + join + piece)) {
          if (span.start < offset && span.end > offset) straddling.push({ start: 0, end: span.end - offset });
        }
        spans = mergeSpans(spans, straddling);
      }
    }
    const keep = Math.max(0, this.#scope.longestForm - 1);
    this.#tail = keep === 0 ? "" : piece.length >= keep ? piece.slice(-keep) : (this.#tail + piece).slice(-keep);
    return applySpans(piece, spans, MASK);
  }
}
