// Whether a string is well-formed Unicode. JSON allows "\ud800", a lone UTF-16 surrogate, which
// has no UTF-8 form: written to a file it silently becomes U+FFFD (two ids collide), and
// encodeURIComponent throws a URIError on it (a storage key, a URL path). An id or a name from
// the other side is refused with one, naming the field.

// With the `u` flag a surrogate pair is one code point outside this range: only a lone one matches.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** `text` with each lone surrogate replaced by U+FFFD (what a UTF-8 encoder writes for it anyway). */
export function toWellFormed(text: string): string {
  return hasLoneSurrogate(text) ? text.replace(/[\uD800-\uDFFF]/gu, "\uFFFD") : text;
}
