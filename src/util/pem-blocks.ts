// Reading PEM text block by block, for the PEM rules (pem-certificates.ts, pem-private-key.ts, and
// the runner key ring's secrets/rsa-private-pem.ts):
// one scanner, so a cut-off file (a BEGIN line that never finds its END) and a block whose base64
// is not one DER structure are found the same way for certificates and keys. Plain JavaScript:
// node:tls is not loaded at start (test/performance).

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** One `BEGIN label … END label` block; `body` is what lies between the two lines. */
export interface PemBlock {
  label: string;
  body: string;
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
    yield { label: match[1]!, body: match[2] ?? "" };
  }
  if (pem.indexOf("-----BEGIN", end) !== -1) yield "unterminated";
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
