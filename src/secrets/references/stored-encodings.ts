// The texts a stored secret's value decodes to, for the own-credential guard (own-credential.ts):
// the encodings a copy of a credential is stored in by people and tools, layered as they happen
// (a key file base64'd for an environment variable and that base64'd again in a Kubernetes
// Secret; a token hex-dumped by `xxd -p`; a key file URL-encoded into a form or a connection
// string). Each layer decodes base64 (either alphabet, padded or not, the whole value or a run
// inside it), hex (either case; the whole value or a run inside it, its bytes also separated by
// spaces, line breaks, colons or `\x` as `xxd -p`, `od -An -tx1`, `hexdump` and fingerprints write
// them) and percent-encoding (`%XX`, any case, any characters escaped, also escaped twice), up to
// MAX_LAYERS deep, within a budget: what a value costs stays bounded whatever it holds.

import { isUtf8 } from "node:buffer";

/** Layers decoded at most: base64 of base64 of base64 (a key file in a Secret in a manifest) is the deepest seen. */
export const MAX_LAYERS = 3;
/**
 * Decoded texts at most per value: each is searched for every credential, and a text costs some
 * microseconds beyond its length. A 1 MiB value of short hex runs decodes to about 200,000.
 */
const MAX_TEXTS = 250_000;
/** Decoded characters at most per value, as a multiple of its length (plus a floor for short values). */
const CHARS_PER_CHAR = 8;
const MIN_CHARS_BUDGET = 64 * 1024;
/**
 * A run of base64 long enough to hold a credential of 8 characters (the shortest own-credential.ts
 * looks for inside text). The whole value is decoded from 4 characters: only the base64 of a
 * credential decodes to it exactly, so a short whole value refuses nothing ordinary.
 */
const BASE64_RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
const MIN_WHOLE_BASE64 = 4;
/**
 * Eight or more hex bytes (a credential of 8 characters): as one run, and as pairs each separated
 * from the next as dumps write them. `xxd -p`'s lines (60 digits each) are the whole value's hex.
 */
const PLAIN_HEX_RUN = /[0-9A-Fa-f]{16,}/g;
const SEPARATED_HEX_RUN = /(?:\\x)?[0-9A-Fa-f]{2}(?:(?:[ \t]*\r?\n[ \t]*|[ \t:]|\\x)[0-9A-Fa-f]{2}){7,}/g;
const HEX_SEPARATORS = /\s|:|\\x/g;
const PERCENT = /%[0-9A-Fa-f]{2}/;

const utf16le = new TextDecoder("utf-16le");

/**
 * Every text `value` decodes to, layer by layer (shallow first), not `value` itself. Past the
 * budget nothing more is decoded: the value's own text and its first layer come first.
 */
export function* storedDecodings(value: string): Generator<string> {
  let texts = 0;
  let chars = 0;
  const maxChars = Math.max(MIN_CHARS_BUDGET, value.length * CHARS_PER_CHAR);
  let layer = [value];
  for (let depth = 0; depth < MAX_LAYERS && layer.length > 0; depth++) {
    const next: string[] = [];
    for (const text of layer) {
      for (const decoded of decodingsOf(text)) {
        if (++texts > MAX_TEXTS || (chars += decoded.length) > maxChars) return;
        yield decoded;
        next.push(decoded);
      }
    }
    layer = next;
  }
}

/** One layer: what `text` decodes to as base64, hex and percent-encoding. */
function* decodingsOf(text: string): Generator<string> {
  yield* base64Texts(text);
  yield* hexTexts(text);
  if (PERCENT.test(text)) yield textOf(percentDecoded(text));
}

/** The value (without whitespace) and the base64 runs inside it, decoded. */
function* base64Texts(text: string): Generator<string> {
  const compact = text.replace(/\s+/g, "");
  const whole = bytesOfBase64(compact, MIN_WHOLE_BASE64);
  if (whole !== undefined) yield textOf(whole);
  for (const match of text.matchAll(BASE64_RUN)) {
    if (match[0] === compact) continue;
    const bytes = bytesOfBase64(match[0], 12);
    if (bytes !== undefined) yield textOf(bytes);
  }
}

/** `run` decoded, when all of it is base64 (either alphabet, padding optional) of at least `min` characters. */
function bytesOfBase64(run: string, min: number): Buffer | undefined {
  const data = run.replace(/=+$/, "");
  // A length of 1 more than a multiple of 4 is no base64; other characters are not either.
  if (data.length < min || data.length % 4 === 1 || !/^[A-Za-z0-9+/_-]+$/.test(data) || run.length - data.length > 2) return undefined;
  return Buffer.from(data.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/**
 * The value as hex (separators taken out; a short credential's hex is shorter than a run), and
 * each hex run inside it. A run without separators is read from its first and its second digit:
 * a hex letter just before it (`a6877…`) would otherwise shift every byte.
 */
function* hexTexts(text: string): Generator<string> {
  const compact = text.trim().replace(/^0x/i, "").replace(HEX_SEPARATORS, "");
  const whole = compact.length >= 2 && compact.length % 2 === 0 && /^[0-9A-Fa-f]+$/.test(compact);
  if (whole) yield textOf(Buffer.from(compact, "hex"));
  for (const [run] of text.matchAll(PLAIN_HEX_RUN)) {
    if (!(whole && run === compact)) yield textOf(Buffer.from(run.slice(0, run.length - (run.length % 2)), "hex"));
    yield textOf(Buffer.from(run.slice(1, run.length - ((run.length - 1) % 2)), "hex"));
  }
  for (const [run] of text.matchAll(SEPARATED_HEX_RUN)) {
    const digits = run.replace(HEX_SEPARATORS, "");
    if (!(whole && digits === compact)) yield textOf(Buffer.from(digits, "hex"));
  }
}

/** `%XX` as the byte it names (escaped twice, `%2541`, is the next layer's); the rest as its UTF-8. */
function percentDecoded(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 37 /* % */ && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    const code = text.codePointAt(i)!;
    if (code < 0x80) bytes.push(code);
    else {
      for (const byte of Buffer.from(String.fromCodePoint(code), "utf8")) bytes.push(byte);
      if (code > 0xffff) i++;
    }
  }
  return Buffer.from(bytes);
}

/**
 * Decoded bytes as text: UTF-8; else (a binary holding the credential among other bytes) each
 * byte as one character, which keeps an ASCII credential as it is; and UTF-16LE too when every
 * other byte is zero, as PowerShell's `[Text.Encoding]::Unicode` writes a string before base64.
 */
function textOf(bytes: Buffer): string {
  if (looksUtf16le(bytes)) return utf16le.decode(bytes);
  // Checked, not caught: most decoded runs of ordinary text are not UTF-8, and a throw per run cost ~3 µs.
  return isUtf8(bytes) ? bytes.toString("utf8") : bytes.toString("latin1");
}

function looksUtf16le(bytes: Buffer): boolean {
  if (bytes.length < 4 || bytes.length % 2 !== 0) return false;
  for (let i = 1; i < bytes.length; i += 2) if (bytes[i] !== 0) return false;
  return true;
}
