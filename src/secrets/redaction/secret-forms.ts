// The forms a secret can take in text a job writes: as is, base64 and base64url (at each of the
// three byte alignments it can have inside a longer encoded string), URL-encoded, hex, and
// JSON-escaped; a multi-line secret also line by line, so one printed over several log lines
// is masked line by line.

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
  add(bytes.toString("hex"));
  add(bytes.toString("hex").toUpperCase());
  add(encodeURIComponent(value));
  add(encodeURIComponent(value).replace(/%20/g, "+"));
  add(JSON.stringify(value).slice(1, -1));
  // A JSON string inside a JSON string (a log line that is itself a serialized object).
  add(JSON.stringify(JSON.stringify(value)).slice(2, -2));
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r?\n|\r/)) add(line.trim(), MIN_FORM_CHARS);
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
