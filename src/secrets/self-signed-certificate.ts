// A self-signed X.509 v3 certificate for the runner's RSA key, because meshStack registers a
// building block runner's public key as a certificate (meshcloud's Go code reads only a PEM
// CERTIFICATE block). jose cannot make X.509, so the DER is built here by hand (RFC 5280) and
// signed with node:crypto (sha256WithRSAEncryption).

import { createPublicKey, randomBytes, sign, type KeyObject } from "node:crypto";

const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";
const COMMON_NAME = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const nul = () => Buffer.from([0x05, 0x00]);
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const octets = (content: Buffer) => tlv(0x04, content);
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && ((b[1] as number) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function bitString(content: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), "ascii")) : tlv(0x18, Buffer.from(iso, "ascii"));
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid(COMMON_NAME), utf8(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

export interface CertificateOptions {
  privateKey: KeyObject;
  /** Subject and issuer common name. */
  commonName: string;
  /** Validity; 10 years by default (meshStack uses the key, not the dates). */
  days?: number;
  now?: Date;
}

/** A PEM CERTIFICATE for the key pair of `privateKey`, self-signed. */
export function selfSignedCertificate(options: CertificateOptions): string {
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 5 * 60_000);
  const notAfter = new Date(now.getTime() + (options.days ?? 3650) * 86_400_000);
  const spki = createPublicKey(options.privateKey).export({ type: "spki", format: "der" });
  const algorithm = seq(oid(SHA256_WITH_RSA), nul());
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const subject = name(options.commonName);
  // keyUsage: digitalSignature, keyEncipherment, dataEncipherment (bits 0, 2, 3).
  const keyUsage = bitString(Buffer.from([0b10110000]), 4);
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
    tlv(0xa3, seq(extension(BASIC_CONSTRAINTS, true, seq()), extension(KEY_USAGE, true, keyUsage))),
  );
  const signature = sign("sha256", tbs, options.privateKey);
  const der = seq(tbs, algorithm, bitString(signature));
  const body = der.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}
