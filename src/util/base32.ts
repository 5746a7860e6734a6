// RFC 4648 base32 (upper-case alphabet, `=` padding): how TOTP seeds, some tokens and DNS-safe
// names are printed. Only encoding is needed (redaction derives a secret's base32 forms).

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32(bytes: Uint8Array, pad = true): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return pad ? out.padEnd(Math.ceil(out.length / 8) * 8, "=") : out;
}
