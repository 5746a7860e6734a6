// The one rule for "is this a usable PEM bundle of CA certificates", for every CA bundle the
// runner reads (caFile, s3CaFile, vaultCaFile; the doctor's TLS check): checked in plain
// JavaScript when the config is read, because node:tls is not loaded at start (test/performance),
// Node's createSecureContext skips a broken block without a word, and Bun's refuses the whole
// bundle only at the first connection. Text outside the blocks (comments) is allowed, as OpenSSL
// allows it; a block that is not one DER certificate is refused, not skipped. In util/ (the lowest
// layer) so platform/, storage/, secrets/ and ops/ all use this same function.

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Why `pem` is not a usable bundle of CA certificates; undefined when it is. */
export function pemCertificatesProblem(pem: string): string | undefined {
  let certificates = 0;
  let end = 0;
  for (const match of pem.matchAll(BLOCK)) {
    // A BEGIN line before this block that never found its END (OpenSSL would stop there).
    if (pem.slice(end, match.index).includes("-----BEGIN")) return unterminated(certificates);
    certificates++;
    end = match.index + match[0].length;
    if (match[1] !== "CERTIFICATE") return `block ${certificates} is a "${match[1]}", not a CERTIFICATE`;
    const body = (match[2] ?? "").replace(/\s+/g, "");
    if (body.length % 4 !== 0 || !BASE64.test(body) || !isDerSequence(Buffer.from(body, "base64"))) return `certificate ${certificates} is not valid PEM (its base64 is not one DER certificate)`;
  }
  if (pem.indexOf("-----BEGIN", end) !== -1) return unterminated(certificates);
  if (certificates === 0) return pem.trim() === "" ? "the file is empty" : "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  return undefined;
}

function unterminated(certificatesBefore: number): string {
  return certificatesBefore === 0 ? "its first block has no matching END line (a cut-off file?)" : `a block after certificate ${certificatesBefore} has no matching END line`;
}

/** One DER SEQUENCE whose length header covers exactly the bytes (an X.509 certificate is one). */
function isDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 4 || der.length < 2 + octets) return false;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + der[2 + i]!;
  return 2 + octets + length === der.length;
}
