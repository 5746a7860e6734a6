// The key ring reads a key's public numbers without node:crypto (src/secrets/rsa-private-pem.ts,
// src/util/sha256.ts): the same n, e, size and RFC 7638 thumbprint as node:crypto and jose, and a
// config error for anything node:crypto would refuse or that is not a sound RSA key.

import { describe, expect, test } from "bun:test";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import { ringKeyOf } from "../../src/secrets/key-ring.ts";
import { readRsaPrivatePem } from "../../src/secrets/rsa-private-pem.ts";
import { sha256 } from "../../src/util/sha256.ts";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const pkcs1 = privateKey.export({ type: "pkcs1", format: "pem" }) as string;
const jwk = createPublicKey(privateKey).export({ format: "jwk" });

/** The PEM with one byte of its DER changed at `at` (counted from the end). */
function altered(pem: string, fromEnd: number): string {
  const [head, ...rest] = pem.trim().split("\n");
  const foot = rest.pop();
  const der = Buffer.from(rest.join(""), "base64");
  der[der.length - fromEnd] = (der[der.length - fromEnd] as number) ^ 0x01;
  return `${head}\n${der.toString("base64")}\n${foot}\n`;
}

const loadError = (pem: string): string => {
  try {
    ringKeyOf(pem, true, "k.pem");
  } catch (error) {
    expect((error as { code?: string }).code).toBe("config_invalid");
    return (error as Error).message;
  }
  return "(loaded)";
};

describe("an RSA private key PEM read without node:crypto", () => {
  test("PKCS#8 and PKCS#1 give node:crypto's n and e, the size, and jose's thumbprint as the kid", async () => {
    const thumbprint = await calculateJwkThumbprint({ kty: "RSA", n: jwk.n as string, e: jwk.e as string }, "sha256");
    for (const pem of [pkcs8, pkcs1, `some text before the key\n${pkcs8}`]) {
      const key = ringKeyOf(pem, true, "k.pem");
      expect({ n: key.publicJwk.n, e: key.publicJwk.e, bits: key.modulusLength, kid: key.kid }).toEqual({ n: jwk.n as string, e: jwk.e as string, bits: 2048, kid: thumbprint });
    }
  });

  test("a ring key keeps its PEM out of what is spread, logged or serialized, and still decrypts", () => {
    const key = ringKeyOf(pkcs8, true, "k.pem");
    const marker = pkcs8.split("\n")[1] as string;
    expect(JSON.stringify(key)).not.toContain(marker);
    expect(JSON.stringify({ ...key })).not.toContain("PRIVATE KEY");
    expect(Object.keys(key)).not.toContain("pem");
    expect(key.pem).toBe(pkcs8);
  });

  test("a key whose numbers were altered (n no longer p·q) is refused, as is one with a broken structure", () => {
    // The last bytes are coefficient qInv (not checked) in PKCS#1; n starts near the front.
    const nAt = Buffer.from(pkcs1.trim().split("\n").slice(1, -1).join(""), "base64").length - 20;
    expect(loadError(altered(pkcs1, nAt))).toBe('Cannot load runner key "k.pem": not a well-formed RSA private key (corrupt?)');
    const der = Buffer.from(pkcs8.trim().split("\n").slice(1, -1).join(""), "base64");
    const truncated = `-----BEGIN PRIVATE KEY-----\n${der.subarray(0, der.length - 10).toString("base64")}\n-----END PRIVATE KEY-----\n`;
    expect(readRsaPrivatePem(truncated)).toEqual({ ok: false, why: "corrupt" });
  });

  test("an EC key is not an RSA key; an encrypted key, a public key or no PEM is not a PEM private key", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(loadError(ec.privateKey.export({ type: "pkcs8", format: "pem" }) as string)).toBe('Cannot load runner key "k.pem": not an RSA key');
    expect(loadError(ec.privateKey.export({ type: "sec1", format: "pem" }) as string)).toBe('Cannot load runner key "k.pem": not an RSA key');
    const encrypted = privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "p" }) as string;
    const encryptedPkcs1 = privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "p" }) as string;
    const spki = createPublicKey(privateKey).export({ type: "spki", format: "pem" }) as string;
    for (const pem of [encrypted, encryptedPkcs1, spki, "hello", ""]) expect(loadError(pem)).toBe('Cannot load runner key "k.pem": not a PEM private key');
  });

  test("a key after a BEGIN line with no END line, or a key whose BEGIN or END line is not a line of its own, is not a PEM private key (node:crypto refuses them)", () => {
    const lines = pkcs8.trim().split("\n").slice(1, -1);
    const body = lines.join("");
    for (const pem of [
      `-----BEGIN RSA PRIVATE KEY-----\nMIIB\n${pkcs8}`,
      `-----BEGIN CERTIFICATE-----\nMIIB\n${pkcs8}`,
      `-----BEGIN PRIVATE KEY-----${body}-----END PRIVATE KEY-----\n`,
      `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}-----END PRIVATE KEY-----\n`,
      `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY----- ours\n`,
    ]) {
      expect(() => createPrivateKey(pem)).toThrow();
      expect(loadError(pem)).toBe('Cannot load runner key "k.pem": not a PEM private key');
    }
  });
});

test("sha256 matches node:crypto around the block boundaries", () => {
  for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const data = new Uint8Array(length).map((_, i) => (i * 31 + length) & 255);
    expect({ length, digest: Buffer.from(sha256(data)).toString("hex") }).toEqual({ length, digest: createHash("sha256").update(data).digest("hex") });
  }
});
