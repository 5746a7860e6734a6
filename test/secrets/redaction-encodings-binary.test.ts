// Encodings of a secret's bytes that tools print beyond base64 and hex (issue 8 item 2, "fail
// closed"): base32 (TOTP seeds, DNS-safe names), UTF-16 (Windows tools; PowerShell's
// -EncodedCommand is the base64 of UTF-16LE), hex in upper or mixed case, base64 and
// base64url without padding. Each is printed alone and inside a longer encoding, at every byte
// alignment the secret can have there. base32 and UTF-16 failed before secret-forms.ts derived
// them; base64 and base64url without padding and upper-case hex were already masked. Hex in
// mixed case (letters in both cases within one number) is not masked: no common tool prints it,
// and matching it would mean a case-folded scan of every line; nor is lower-case base32 inside a
// longer text, or the hex of UTF-16 (each form is matcher memory in every job; docs/security.md).

import { describe, expect, test } from "bun:test";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";

const SECRET = "cnry-Bin/7Hq2+Lx9Vb3Kd";
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32, written here independently of the runner's own. */
function base32(bytes: Buffer, pad = true): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return pad ? out.padEnd(Math.ceil(out.length / 8) * 8, "=") : out;
}
const utf16be = (s: string) => Buffer.from(s, "utf16le").swap16();

/** Each encoding of `bytes` as a tool would print it. */
const ENCODINGS: Record<string, (bytes: Buffer) => string> = {
  "base32": (b) => base32(b),
  "base32 without padding": (b) => base32(b, false),
  "base64 without padding": (b) => b.toString("base64").replace(/=+$/, ""),
  "base64url without padding": (b) => b.toString("base64url"),
  "hex, upper case": (b) => b.toString("hex").toUpperCase(),
};

const secretBytes = Buffer.from(SECRET, "utf8");


describe("binary encodings of a secret", () => {
  for (const [name, encode] of Object.entries(ENCODINGS)) {
    test(`${name}, alone and inside a longer encoded text at each alignment`, () => {
      const scope = new RedactionScope();
      scope.add(SECRET);
      for (let lead = 0; lead < 5; lead++) {
        const around = Buffer.concat([Buffer.from("pre-bytes!".slice(0, lead)), secretBytes, Buffer.from("-post")]);
        for (const bytes of lead === 0 ? [secretBytes, around] : [around]) {
          const printed = encode(bytes);
          const out = scope.text(`before ${printed} after`);
          expect(out, `${name}, ${lead} bytes before: ${printed}`).toContain("[REDACTED]");
          // What is left is the neighbours' share (and padding): never more than a character or two of the secret.
          const left = out.replace("[REDACTED]", "").length - "before  after".length;
          expect(left, `${name}, ${lead} bytes before: ${out}`).toBeLessThanOrEqual(encode(Buffer.concat([bytes.subarray(0, lead), bytes.subarray(lead + secretBytes.length)])).length + 8);
        }
      }
    });
  }

  test("base32 in lower case, of the secret alone", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    expect(scope.text(`before ${base32(secretBytes).toLowerCase()} after`)).toBe("before [REDACTED] after");
  });

  test("UTF-16LE and UTF-16BE text (a NUL byte beside each ASCII character)", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    for (const bytes of [Buffer.from(SECRET, "utf16le"), utf16be(SECRET)]) {
      const out = scope.text(`before ${bytes.toString("latin1")} after`);
      expect(out).toBe("before [REDACTED] after");
    }
  });

  test("the base64 of its UTF-16LE bytes (PowerShell -EncodedCommand), at each alignment", () => {
    const scope = new RedactionScope();
    scope.add(SECRET);
    for (let lead = 0; lead < 3; lead++) {
      const command = Buffer.concat([Buffer.from("$t='".slice(0, lead + 1), "utf16le"), Buffer.from(SECRET, "utf16le"), Buffer.from("'", "utf16le")]);
      for (const printed of [command.toString("base64")]) {
        const out = scope.text(`powershell -EncodedCommand ${printed}`);
        expect(out, printed).toContain("[REDACTED]");
        // Left: the prefix's and the quote's bytes (under 3 characters each) and 2 that mix in the secret.
        expect(out.length, out).toBeLessThanOrEqual("powershell -EncodedCommand [REDACTED]".length + 3 * (lead + 2) * 2 + 2);
      }
    }
  });
});
