// The forms a secret can take in text a job writes: as is, base64 and base64url (at each of the
// three byte alignments it can have inside a longer encoded string, whole, and wrapped in lines),
// base32 (at each of its five alignments; lower case whole), URL-encoded, hex (also with
// separators), UTF-16LE and BE (as text, and the base64 of UTF-16LE: PowerShell's -EncodedCommand),
// JSON-escaped and shell-quoted; a multi-line secret
// also with the other line ends and line by line, so one printed over several log lines is masked
// line by line. Escapes a tool may apply to any character (percent, backslash, HTML) are decoded
// before matching instead (decoded-view.ts): these forms are matched in the decoded text too.

import { base32 } from "../../util/base32.ts";
import { toWellFormed } from "../../util/well-formed.ts";

/** Shorter values are not masked: they would hit ordinary text everywhere. */
export const MIN_SECRET_CHARS = 4;
/**
 * Values up to this long also get the rarer forms (base32, UTF-16): a token or a key is printed
 * so by tools, a long value (a certificate bundle) hardly; each form is matcher memory per job,
 * and for the longest value a plugin may mask (64 KiB) these would double it.
 */
const MAX_RARE_FORM_CHARS = 4096;
/** An encoded fragment shorter than this says too little to mask safely. */
const MIN_FORM_CHARS = 6;

export function secretForms(value: string): string[] {
  const forms = new Set<string>();
  const add = (form: string, min = MIN_FORM_CHARS) => {
    if (form.length >= min) forms.add(form);
  };
  add(value, MIN_SECRET_CHARS);
  const bytes = Buffer.from(value, "utf8");
  for (let offset = 0; offset < 3; offset++) {
    const stable = alignedBase64(bytes, offset);
    add(stable);
    add(stable.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  // The whole encoding, padding included: for a short secret the aligned part alone is too short.
  add(bytes.toString("base64"));
  add(bytes.toString("base64url"));
  // A long secret encoded on its own comes in lines: `base64` wraps at 76 columns, PEM tools and
  // `openssl base64` at 64. The part that does not depend on what follows it, wrapped the same.
  for (const width of [64, 76]) {
    for (const encoded of [bytes.toString("base64"), alignedBase64(bytes, 0)]) {
      if (encoded.length > width) add(encoded.replace(new RegExp(`(.{${width}})(?=.)`, "g"), "$1\n"));
    }
  }
  if (value.length <= MAX_RARE_FORM_CHARS) rareForms(value, bytes, add);
  const hex = bytes.toString("hex");
  for (const digits of [hex, hex.toUpperCase()]) {
    add(digits);
    const pairs = digits.match(/../g) ?? [];
    add(pairs.join(":"));
    add(pairs.join(" "));
  }
  // encodeURIComponent throws on a lone surrogate (JSON's "\ud800" parses to one); an encoder that
  // does not throw writes U+FFFD's bytes for it, as the UTF-8 forms above have them.
  const wellFormed = toWellFormed(value);
  // As text that went through UTF-8 (a process's stdout, a file): U+FFFD where the surrogate was.
  add(wellFormed, MIN_SECRET_CHARS);
  const uri = encodeURIComponent(wellFormed);
  add(uri);
  add(uri.replace(/%20/g, "+"));
  // Matched in the decoded view of form encoding, where a space became `+` and a `+` stayed.
  if (value.includes(" ")) add(value.replace(/ /g, "+"), MIN_SECRET_CHARS);
  // UTF-8 bytes read as Latin-1: what percent- or \x-decoding a non-ASCII secret gives.
  if (bytes.length !== value.length) add(bytes.toString("latin1"), MIN_SECRET_CHARS);
  add(JSON.stringify(value).slice(1, -1));
  // A JSON string inside a JSON string (a log line that is itself a serialized object).
  add(JSON.stringify(JSON.stringify(value)).slice(2, -2));
  // Inside single quotes for a shell: each quote closed, escaped and reopened.
  if (value.includes("'")) {
    add(value.replace(/'/g, "'\\''"), MIN_SECRET_CHARS);
    add(value.replace(/'/g, `'"'"'`), MIN_SECRET_CHARS);
  }
  if (/[\r\n]/.test(value)) {
    const lines = value.split(/\r?\n|\r/);
    add(lines.join("\n"), MIN_SECRET_CHARS);
    add(lines.join("\r\n"), MIN_SECRET_CHARS);
    for (const line of lines) add(line.trim(), MIN_FORM_CHARS);
  }
  return [...forms];
}

/** base32 and UTF-16 forms (see MAX_RARE_FORM_CHARS). */
function rareForms(value: string, bytes: Buffer, add: (form: string, min?: number) => void): void {
  // base32 packs 5 bytes in 8 characters: a secret inside a longer text has five alignments.
  // Lower case (some libraries print it so) only whole: each form costs matcher memory per job.
  for (let offset = 0; offset < 5; offset++) add(aligned(bytes, offset, 5, (b) => base32(b, false)));
  add(base32(bytes));
  add(base32(bytes).toLowerCase());
  // UTF-16 read as single bytes (a NUL beside each ASCII character), and its base64: PowerShell's
  // -EncodedCommand. Not its hex (4 characters a character, and no common tool prints it).
  const utf16 = Buffer.from(value, "utf16le");
  add(utf16.toString("latin1"), MIN_SECRET_CHARS);
  add(Buffer.from(utf16).swap16().toString("latin1"), MIN_SECRET_CHARS);
  for (let offset = 0; offset < 3; offset++) add(alignedBase64(utf16, offset));
  add(utf16.toString("base64"));
}

/**
 * The base64 characters that depend only on `bytes` when they sit `offset` bytes (mod 3) into a
 * longer buffer: characters that mix in neighbouring bytes at either end are dropped.
 */
function alignedBase64(bytes: Buffer, offset: number): string {
  return aligned(bytes, offset, 6, (b) => b.toString("base64"));
}

/** The same for any encoding of `bits` bits a character (base64: 6, base32: 5). */
function aligned(bytes: Buffer, offset: number, bits: number, encode: (bytes: Buffer) => string): string {
  const encoded = encode(Buffer.concat([Buffer.alloc(offset), bytes]));
  const first = Math.ceil((8 * offset) / bits);
  const last = Math.floor((8 * (offset + bytes.length) - bits) / bits);
  return last < first ? "" : encoded.slice(first, last + 1);
}
