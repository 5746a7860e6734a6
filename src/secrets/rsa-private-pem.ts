// Reads the public half of an RSA private key PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE
// KEY") in plain JS: the key ring needs only n and e at start-up (the key id and the JWK it
// announces), and a corrupt key must still be a config error before any network call. On Bun,
// node:crypto costs a start ~4 ms of CPU and parsing the key with it ~2-3 ms and ~4 MiB more
// (docs/performance.md, start-up); the KeyObject is made at the first decryption instead.
// Checked here: the DER structure, the rsaEncryption algorithm, a two-prime key, and n = p·q.

import { pemBase64, pemBlocks } from "../util/pem-blocks.ts";

/** n and e as unsigned big-endian bytes (no leading zero), and n's length in bits. */
export interface RsaPublicNumbers {
  n: Uint8Array;
  e: Uint8Array;
  bits: number;
}

export type PemReading = { ok: true; numbers: RsaPublicNumbers } | { ok: false; why: "not_pem" | "not_rsa" | "corrupt" };

// 1.2.840.113549.1.1.1 (rsaEncryption), as DER content bytes.
const RSA_ENCRYPTION = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OCTET_STRING = 0x04;
const OID = 0x06;

class DerError extends Error {}

/** One DER element after another within [pos, end). */
class DerReader {
  readonly #bytes: Uint8Array;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The content of the next element, which must have `tag`. */
  next(tag: number): Uint8Array {
    if (this.#pos + 2 > this.#bytes.length || this.#bytes[this.#pos] !== tag) throw new DerError();
    let length = this.#bytes[this.#pos + 1] as number;
    let at = this.#pos + 2;
    if (length >= 0x80) {
      const octets = length & 0x7f;
      // Indefinite lengths are not DER; no key needs more than 4 length bytes.
      if (octets === 0 || octets > 4 || at + octets > this.#bytes.length) throw new DerError();
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (this.#bytes[at++] as number);
    }
    if (at + length > this.#bytes.length) throw new DerError();
    this.#pos = at + length;
    return this.#bytes.subarray(at, at + length);
  }

  /** A non-negative INTEGER as unsigned big-endian bytes. */
  unsigned(): Uint8Array {
    const content = this.next(INTEGER);
    if (content.length === 0 || ((content[0] as number) & 0x80) !== 0) throw new DerError();
    let start = 0;
    while (start < content.length - 1 && content[start] === 0) start++;
    return content.subarray(start);
  }
}

const bigOf = (bytes: Uint8Array): bigint => (bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`));

/** RSAPrivateKey (RFC 8017 A.1.2), two-prime only; n = p·q is checked. */
function rsaPrivateKey(der: Uint8Array): RsaPublicNumbers {
  const fields = new DerReader(new DerReader(der).next(SEQUENCE));
  const version = fields.unsigned();
  if (version.length !== 1 || version[0] !== 0) throw new DerError();
  const n = fields.unsigned();
  const e = fields.unsigned();
  fields.unsigned(); // d
  const p = fields.unsigned();
  const q = fields.unsigned();
  if (n.length === 0 || (n[0] as number) === 0 || bigOf(n) !== bigOf(p) * bigOf(q)) throw new DerError();
  return { n, e, bits: (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number)) };
}

/** PrivateKeyInfo (RFC 5208): the algorithm must be rsaEncryption. */
function pkcs8(der: Uint8Array): RsaPublicNumbers | "not_rsa" {
  const info = new DerReader(new DerReader(der).next(SEQUENCE));
  info.unsigned(); // version
  const algorithm = new DerReader(info.next(SEQUENCE)).next(OID);
  if (algorithm.length !== RSA_ENCRYPTION.length || RSA_ENCRYPTION.some((byte, i) => algorithm[i] !== byte)) return "not_rsa";
  return rsaPrivateKey(info.next(OCTET_STRING));
}

/**
 * The public numbers of the first PEM block in `text`, which must be a private key. A BEGIN line
 * with no END line before it is not a key (node:crypto refuses the file: it used to be read past,
 * and the key ring loaded a key that failed at its first decryption).
 */
export function readRsaPrivatePem(text: string): PemReading {
  const block = pemBlocks(text).next().value;
  // BEGIN and END on lines of their own (pem-blocks.ts): node:crypto refuses a key written on one
  // line, or with text beside a marker, and a key read here must load there.
  if (block === undefined || block === "unterminated" || !block.onOwnLines) return { ok: false, why: "not_pem" };
  const { label, body } = block;
  if (label === "EC PRIVATE KEY" || label === "DSA PRIVATE KEY") return { ok: false, why: "not_rsa" };
  if (label !== "PRIVATE KEY" && label !== "RSA PRIVATE KEY") return { ok: false, why: "not_pem" };
  // Headers (an encrypted PKCS#1 key's Proc-Type) or anything but base64 is not a key we can read.
  const base64 = pemBase64(body);
  if (base64 === undefined) return { ok: false, why: "not_pem" };
  const der = new Uint8Array(Buffer.from(base64, "base64"));
  try {
    const numbers = label === "PRIVATE KEY" ? pkcs8(der) : rsaPrivateKey(der);
    return numbers === "not_rsa" ? { ok: false, why: "not_rsa" } : { ok: true, numbers };
  } catch (error) {
    if (error instanceof DerError) return { ok: false, why: "corrupt" };
    throw error;
  }
}
