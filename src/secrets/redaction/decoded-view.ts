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
    const next = decodeOnce(source);
    if (next === undefined) break;
    view = view === undefined ? next : compose(view, next);
  }
  return view;
}

function decodeOnce(text: string): DecodedView | undefined {
  let out = "";
  const from: number[] = [];
  const to: number[] = [];
  let changed = false;
  const emit = (chars: string, start: number, end: number) => {
    out += chars;
    for (let k = 0; k < chars.length; k++) {
      from.push(start);
      to.push(end);
    }
  };
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    const decoded = c === "%" ? percent(text, i) : c === "\\" ? backslash(text, i) : c === "&" ? entity(text, i) : undefined;
    if (decoded === undefined) {
      emit(c, i, i + 1);
      i++;
      continue;
    }
    changed = true;
    emit(decoded.chars, i, i + decoded.length);
    i += decoded.length;
  }
  return changed ? { text: out, from: Int32Array.from(from), to: Int32Array.from(to) } : undefined;
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

const HEX = /^[0-9a-fA-F]+$/;

/** `%XX`: one byte, as the character of that code (a UTF-8 secret also has a Latin-1 form). */
function percent(text: string, i: number): { chars: string; length: number } | undefined {
  const hex = text.slice(i + 1, i + 3);
  return hex.length === 2 && HEX.test(hex) ? { chars: String.fromCharCode(parseInt(hex, 16)), length: 3 } : undefined;
}

function backslash(text: string, i: number): { chars: string; length: number } | undefined {
  const next = text[i + 1];
  if (next === undefined) return undefined;
  if (next === "u") {
    const hex = text.slice(i + 2, i + 6);
    return hex.length === 4 && HEX.test(hex) ? { chars: String.fromCharCode(parseInt(hex, 16)), length: 6 } : undefined;
  }
  if (next === "x") {
    const hex = text.slice(i + 2, i + 4);
    return hex.length === 2 && HEX.test(hex) ? { chars: String.fromCharCode(parseInt(hex, 16)), length: 4 } : undefined;
  }
  // `\n` and the like, or any other character escaped for a shell or a JSON string (`\"`, `\ `, `\!`).
  return { chars: SIMPLE_ESCAPES[next] ?? next, length: 2 };
}

/** `&#47;`, `&#x2f;`, `&amp;` and the other four named references of XML. */
function entity(text: string, i: number): { chars: string; length: number } | undefined {
  const end = text.indexOf(";", i + 1);
  if (end < 0 || end - i > 10) return undefined;
  const body = text.slice(i + 1, end);
  let code: number | undefined;
  if (/^#[0-9]{1,7}$/.test(body)) code = parseInt(body.slice(1), 10);
  else if (/^#[xX][0-9a-fA-F]{1,6}$/.test(body)) code = parseInt(body.slice(2), 16);
  else if (ENTITIES[body] !== undefined) return { chars: ENTITIES[body], length: end - i + 1 };
  if (code === undefined || code > 0x10ffff) return undefined;
  return { chars: String.fromCodePoint(code), length: end - i + 1 };
}
