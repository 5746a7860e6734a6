// Reading PEM text block by block, for the PEM rules (pem-certificates.ts, pem-private-key.ts, and
// the runner key ring's secrets/rsa-private-pem.ts):
// one scanner, so a cut-off file (a BEGIN line that never finds its END), a block whose BEGIN or
// END line is not a line of its own and a block whose base64 is not one DER structure are found
// the same way for certificates and keys. Plain JavaScript:
// node:tls is not loaded at start (test/performance).

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** What may follow a BEGIN or END marker on its line: blanks (OpenSSL and BoringSSL allow them), then the line's end. Sticky: tried at lastIndex. */
const REST_OF_LINE = /[ \t]*(?:\r?\n|$)/y;

/** One `BEGIN label … END label` block; `body` is what lies between the two markers. */
export interface PemBlock {
  label: string;
  body: string;
  /**
   * The BEGIN and END markers each start a line and end it (blanks after them allowed), as
   * OpenSSL (Node) and BoringSSL (Bun) read PEM. Otherwise (a block pasted on one line, the base64
   * after BEGIN on its line, text before BEGIN or after END on theirs) both refuse the file with
   * an unclear error ("DECODER routines::unsupported", "BAD_END_LINE", "no start line") when the
   * key or certificate is first used, while the markers alone would still find the block here.
   */
  onOwnLines: boolean;
}

/** Each block in order, then "unterminated" (and nothing more) at a BEGIN line with no END line. */
export function* pemBlocks(pem: string): Generator<PemBlock | "unterminated"> {
  let end = 0;
  for (const match of pem.matchAll(BLOCK)) {
    // A BEGIN line before this block that never found its END (OpenSSL would stop there).
    if (pem.slice(end, match.index).includes("-----BEGIN")) {
      yield "unterminated";
      return;
    }
    end = match.index + match[0].length;
    const body = match[2] ?? "";
    const onOwnLines = (match.index === 0 || pem[match.index - 1] === "\n") && lineEndsAt(body, 0) && body.endsWith("\n") && lineEndsAt(pem, end);
    yield { label: match[1]!, body, onOwnLines };
  }
  if (pem.indexOf("-----BEGIN", end) !== -1) yield "unterminated";
}

/** True when only blanks lie between `at` and the end of its line in `text`. */
function lineEndsAt(text: string, at: number): boolean {
  REST_OF_LINE.lastIndex = at;
  return REST_OF_LINE.test(text);
}

/** The block's base64 without its line breaks; undefined when the body holds anything else (headers such as Proc-Type). */
export function pemBase64(body: string): string | undefined {
  const text = body.replace(/\s+/g, "");
  return BASE64.test(text) ? text : undefined;
}

/** The block's body is base64 of one DER SEQUENCE whose length header covers exactly the bytes (a certificate or a key is one). */
export function isDerSequenceBase64(body: string): boolean {
  const text = pemBase64(body);
  if (text === undefined || text.length % 4 !== 0) return false;
  const der = Buffer.from(text, "base64");
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  return 2 + octets + length === der.length;
}
