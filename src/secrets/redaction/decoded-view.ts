// Escapes a tool may put around each character of a secret, which no fixed list of forms can
// cover (which characters get escaped varies: RFC 3986 or encodeURIComponent, `\u` for every
// character or only some, lower- or upper-case hex). Text holding any of them is also scanned
// decoded, and what matches there is masked in the original text: percent-encoding (`%2f`,
// `%2F`), backslash escapes (`\u002f`, `\x2f`, `\n`, `\/`, `\ ` as JSON, JavaScript, printf %q
// and shells write them), and HTML character references (`&#47;`, `&#x2f;`, `&amp;`).
// Escaped twice (`\\u002f`, `%252f`) is decoded twice.

/** Text decoded, with where each of its characters came from in the original. */
export interface DecodedView {
  text: string;
  /** Start (inclusive) in the original of each character of `text`. */
  from: Int32Array;
  /** End (exclusive) in the original of each character of `text`. */
  to: Int32Array;
}

/** Decoding passes at most: escaped twice is common (a JSON string inside a JSON string); deeper is not. */
const MAX_PASSES = 2;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
const SIMPLE_ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", b: "\b", f: "\f", v: "\v", "0": "\0" };

/** Cheap test: can this text hold an escape at all? Most log lines cannot. */
export function mayHoldEscapes(text: string): boolean {
  return text.includes("%") || text.includes("\\") || text.includes("&");
}

/** The text decoded (up to twice), or undefined when nothing in it decodes. */
export function decodedView(text: string): DecodedView | undefined {
  let view: DecodedView | undefined;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const source = view?.text ?? text;
    if (!mayHoldEscapes(source)) break;
    const next = decodeOnce(source, pass);
    if (next === undefined) break;
    view = view === undefined ? next : compose(view, next);
  }
  return view;
}

/** An escape that decodes: most text with a `%`, `\\` or `&` has none, and is not decoded at all. */
const ESCAPE = /%[0-9A-Fa-f]{2}|\\[^]|&(?:#[0-9xX]|amp;|lt;|gt;|quot;|apos;)/;

const utf16 = new TextDecoder("utf-16le");
/** Scratch buffers longer than this are not kept for the next call. */
const MAX_KEPT = 64 * 1024;
/**
 * Buffers reused from call to call (one set per pass): allocating three typed arrays per log
 * line cost more than the decoding. A view is valid until the next decodedView() call.
 */
const scratch = Array.from({ length: MAX_PASSES }, () => ({ codes: new Uint16Array(256), from: new Int32Array(256), to: new Int32Array(256) }));

function decodeOnce(text: string, pass: number): DecodedView | undefined {
  if (!ESCAPE.test(text)) return undefined;
  // Decoding never lengthens text (the longest result, a surrogate pair, comes from 4 or more characters).
  let buffers = scratch[pass]!;
  if (buffers.codes.length < text.length) {
    const size = Math.max(text.length, buffers.codes.length * 2);
    buffers = { codes: new Uint16Array(size), from: new Int32Array(size), to: new Int32Array(size) };
    // Kept for the next line only up to a size a log line usually has: one huge text keeps nothing.
    if (size <= MAX_KEPT) scratch[pass] = buffers;
  }
  const { codes, from, to } = buffers;
  let n = 0;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    const code = c === 37 /* % */ ? percent(text, i) : c === 92 /* \ */ ? backslash(text, i) : c === 38 /* & */ ? entity(text, i) : -1;
    if (code < 0) {
      codes[n] = c;
      from[n] = i;
      to[n++] = i + 1;
      i++;
      continue;
    }
    const end = i + consumed;
    if (code > 0xffff) {
      codes[n] = 0xd800 + ((code - 0x10000) >> 10);
      from[n] = i;
      to[n++] = end;
      codes[n] = 0xdc00 + ((code - 0x10000) & 0x3ff);
    } else codes[n] = code;
    from[n] = i;
    to[n++] = end;
    i = end;
  }
  // A TextDecoder over the code units is ~10x faster here than String.fromCharCode(...units).
  return { text: utf16.decode(codes.subarray(0, n)), from: from.subarray(0, n), to: to.subarray(0, n) };
}

/** A view of a view: positions mapped through both to the original. */
function compose(outer: DecodedView, inner: DecodedView): DecodedView {
  const from = new Int32Array(inner.text.length);
  const to = new Int32Array(inner.text.length);
  for (let i = 0; i < inner.text.length; i++) {
    from[i] = outer.from[inner.from[i]!]!;
    to[i] = outer.to[inner.to[i]! - 1]!;
  }
  return { text: inner.text, from, to };
}

/** How many characters the escape decoded last took (set by the three functions below). */
let consumed = 0;

/** The value of `count` hex digits at `at`, or -1. */
function hexAt(text: string, at: number, count: number): number {
  if (at + count > text.length) return -1;
  let value = 0;
  for (let k = at; k < at + count; k++) {
    const c = text.charCodeAt(k);
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** `%XX`: one byte, as the character of that code (a UTF-8 secret also has a Latin-1 form). */
function percent(text: string, i: number): number {
  consumed = 3;
  return hexAt(text, i + 1, 2);
}

/** `\uXXXX`, `\xXX`, `\n` and the like, or any other character escaped for a shell or a JSON string (`\"`, `\ `, `\!`). */
function backslash(text: string, i: number): number {
  if (i + 1 >= text.length) return -1;
  const next = text.charCodeAt(i + 1);
  if (next === 117 /* u */) {
    consumed = 6;
    return hexAt(text, i + 2, 4);
  }
  if (next === 120 /* x */) {
    consumed = 4;
    return hexAt(text, i + 2, 2);
  }
  consumed = 2;
  return SIMPLE_ESCAPES[text[i + 1]!]?.charCodeAt(0) ?? next;
}

/** `&#47;`, `&#x2f;`, `&amp;` and the other four named references of XML. */
function entity(text: string, i: number): number {
  const end = text.indexOf(";", i + 1);
  if (end < 0 || end - i > 10) return -1;
  consumed = end - i + 1;
  const body = text.slice(i + 1, end);
  const named = ENTITIES[body];
  if (named !== undefined) return named.charCodeAt(0);
  let code = -1;
  if (/^#[0-9]{1,7}$/.test(body)) code = parseInt(body.slice(1), 10);
  else if (/^#[xX][0-9a-fA-F]{1,6}$/.test(body)) code = parseInt(body.slice(2), 16);
  return code > 0x10ffff ? -1 : code;
}
