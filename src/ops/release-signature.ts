// The signature of SHA256SUMS: a compact JWS, EdDSA (Ed25519), with a detached *unencoded*
// payload (RFC 7797, `b64: false`): `<header>..<signature>` signs the bytes
// `<header>.<SHA256SUMS bytes>`, so install.sh can check it with `openssl pkeyutl -rawin`
// without base64-encoding the file in shell.

import { FlattenedSign, flattenedVerify, importJWK, importSPKI, decodeProtectedHeader, type JWK } from "jose";
import { EdgeError } from "../errors.ts";

const COMPACT_DETACHED = /^([A-Za-z0-9_-]+)\.\.([A-Za-z0-9_-]+)$/;

/** Signs `payload` with an Ed25519 private JWK; returns `<header>..<signature>`. */
export async function signDetached(payload: Uint8Array, privateJwk: JWK): Promise<string> {
  if (privateJwk.kty !== "OKP" || privateJwk.crv !== "Ed25519" || typeof privateJwk.d !== "string") {
    throw new TypeError(`Cannot sign with key "${privateJwk.kid ?? "(no kid)"}": expected an Ed25519 private JWK`);
  }
  const key = await importJWK(privateJwk, "EdDSA");
  const header = { alg: "EdDSA", b64: false, crit: ["b64"], ...(privateJwk.kid === undefined ? {} : { kid: privateJwk.kid }) };
  const jws = await new FlattenedSign(payload).setProtectedHeader(header).sign(key);
  return `${jws.protected as string}..${jws.signature}`;
}

/** A trusted key: a public JWK, or SPKI PEM text (what install.sh uses). */
export type TrustedKey = JWK | string;

/**
 * Resolves to the `kid` of the key that verified `payload` (or "" for a key without one);
 * throws `release_unverified` on anything else. Keys are tried by `kid` when the header names one.
 */
export async function verifyDetached(payload: Uint8Array, jws: string, keys: readonly TrustedKey[], name = "SHA256SUMS"): Promise<string> {
  const fail = (why: string): never => {
    throw new EdgeError("release_unverified", `Cannot verify "${name}": ${why}`);
  };
  const match = COMPACT_DETACHED.exec(jws.trim());
  if (match === null) return fail("signature is not a compact JWS with a detached payload");
  const [, protectedHeader, signature] = match as unknown as [string, string, string];
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(`${protectedHeader}..`);
  } catch {
    return fail("signature header is not valid JSON");
  }
  if (header.alg !== "EdDSA" || header.b64 !== false) return fail(`signature header must say alg "EdDSA" and b64 false, not ${JSON.stringify(header)}`);
  if (keys.length === 0) return fail("no trusted release key");
  const named = keys.filter((k) => typeof k !== "string" && header.kid !== undefined && k.kid === header.kid);
  const candidates = named.length > 0 ? named : keys;
  for (const candidate of candidates) {
    const key = typeof candidate === "string" ? await importSPKI(candidate, "EdDSA") : await importJWK(candidate, "EdDSA");
    try {
      await flattenedVerify({ protected: protectedHeader, payload, signature }, key, { algorithms: ["EdDSA"] });
      return typeof candidate === "string" ? "" : (candidate.kid ?? "");
    } catch {
      // Try the next key; only "none matched" is reported, so a probe learns nothing per key.
    }
  }
  return fail(`signature does not match any trusted release key${header.kid === undefined ? "" : ` (signed by "${header.kid}")`}`);
}
