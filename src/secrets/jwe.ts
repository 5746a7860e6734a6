// Secret values encrypted to a runner's key: compact JWE, RSA-OAEP-256 wrapping an A256GCM
// content key, `kid` = the runner key's RFC 7638 id. The controller encrypts (encryptToRunner);
// the runner decrypts with its key ring (decryptJwe). Errors name what was being decrypted and
// the key id, never the ciphertext or any key material.

import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, importJWK } from "jose";
import { EdgeError } from "../errors.ts";
import type { RunnerKeyRing, RunnerPublicJwk } from "./key-ring.ts";
import { privateKeyOf } from "./ring-private-key.ts";

export const JWE_ALG = "RSA-OAEP-256";
export const JWE_ENC = "A256GCM";
/** A secret value is at most 64 KiB; its JWE (base64url, header, key) stays well under this. */
const MAX_JWE_CHARS = 128 * 1024;

export async function encryptToRunner(value: string, key: RunnerPublicJwk): Promise<string> {
  const publicKey = await importJWK({ kty: key.kty, n: key.n, e: key.e }, JWE_ALG);
  return new CompactEncrypt(new TextEncoder().encode(value))
    .setProtectedHeader({ alg: JWE_ALG, enc: JWE_ENC, kid: key.kid })
    .encrypt(publicKey);
}

/** The key id a compact JWE was made for, or undefined when it has none or is not a JWE. */
export function jweKeyId(jwe: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(jwe).kid;
    return typeof kid === "string" ? kid.slice(0, 128) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decrypts one compact JWE (or the first of several, one per runner key, this ring can open).
 * `what` names the value in errors, e.g. `the secret at input path "db.password"`.
 */
export async function decryptJwe(ring: RunnerKeyRing, jwe: string | readonly string[], what: string): Promise<string> {
  const candidates = (typeof jwe === "string" ? [jwe] : jwe).filter((item): item is string => typeof item === "string");
  if (candidates.length === 0) throw new EdgeError("secret_undecryptable", `Cannot decrypt ${what}: it is not a compact JWE`);
  const kids: string[] = [];
  for (const candidate of candidates) {
    if (candidate.length > MAX_JWE_CHARS) throw new EdgeError("secret_undecryptable", `Cannot decrypt ${what}: the JWE is longer than ${MAX_JWE_CHARS} characters`);
    const kid = jweKeyId(candidate);
    if (kid === undefined) throw new EdgeError("secret_undecryptable", `Cannot decrypt ${what}: it is not a compact JWE with a "kid"`);
    kids.push(kid);
    const key = ring.get(kid);
    if (key === undefined) continue;
    try {
      const { plaintext } = await compactDecrypt(candidate, privateKeyOf(key), { keyManagementAlgorithms: [JWE_ALG], contentEncryptionAlgorithms: [JWE_ENC] });
      return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
    } catch {
      throw new EdgeError("secret_undecryptable", `Cannot decrypt ${what}: it names runner key "${kid}", which this runner holds, but the JWE does not verify (altered, or not RSA-OAEP-256/A256GCM)`);
    }
  }
  const held = ring.keys.map((key) => key.kid);
  throw new EdgeError(
    "secret_undecryptable",
    `Cannot decrypt ${what}: it was encrypted to runner key ${kids.map((kid) => `"${kid}"`).join(", ")} and this runner holds no matching key` +
      (held.length === 0 ? " (it has no key ring; run `edge-runner keygen`)" : ` (it holds ${held.map((kid) => `"${kid}"`).join(", ")})`),
  );
}
