// The forms a secret can take in text a job writes: as is, base64 and base64url (at each of the
// three byte alignments it can have inside a longer encoded string, whole, and wrapped in lines),
// URL-encoded, hex (also with separators), JSON-escaped and shell-quoted; a multi-line secret
// also with the other line ends and line by line, so one printed over several log lines is masked
// line by line. Escapes a tool may apply to any character (percent, backslash, HTML) are decoded
// before matching instead (decoded-view.ts): these forms are matched in the decoded text too.

/** Shorter values are not masked: they would hit ordinary text everywhere. */
export const MIN_SECRET_CHARS = 4;
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
  const hex = bytes.toString("hex");
  for (const digits of [hex, hex.toUpperCase()]) {
    add(digits);
    const pairs = digits.match(/../g) ?? [];
    add(pairs.join(":"));
    add(pairs.join(" "));
  }
  add(encodeURIComponent(value));
  add(encodeURIComponent(value).replace(/%20/g, "+"));
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

/**
 * The base64 characters that depend only on `bytes` when they sit `offset` bytes (mod 3) into a
 * longer buffer: characters that mix in neighbouring bytes at either end are dropped.
 */
function alignedBase64(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  const first = Math.ceil((8 * offset) / 6);
  const last = Math.floor((8 * (offset + bytes.length) - 6) / 6);
  return last < first ? "" : encoded.slice(first, last + 1);
}
