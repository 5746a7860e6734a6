// Checks the public keys a runner tells its controller before the controller encrypts to them:
// RSA JWKs, at least 2048 bits, each `kid` the RFC 7638 thumbprint of its key (so a kid in an
// error always means the same key), at most 32 of them.

import { createPublicKey } from "node:crypto";
import { calculateJwkThumbprint } from "jose";
import { EdgeError } from "../errors.ts";
import type { RunnerPublicJwk } from "./key-ring.ts";

const MAX_KEYS = 32;
const MIN_BITS = 2048;
const MAX_BITS = 8192;

export async function parseRunnerPublicKeys(value: unknown, field = "keys"): Promise<RunnerPublicJwk[]> {
  const bad = (why: string) => new EdgeError("input_invalid", `Cannot accept the runner's "${field}": ${why}`);
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_KEYS) throw bad(`must be an array of 1 to ${MAX_KEYS} RSA public JWKs`);
  const out: RunnerPublicJwk[] = [];
  for (const [i, item] of value.entries()) {
    if (item === null || typeof item !== "object") throw bad(`item ${i} is not an object`);
    const { kty, n, e, kid } = item as Record<string, unknown>;
    if (kty !== "RSA" || typeof n !== "string" || typeof e !== "string" || typeof kid !== "string") throw bad(`item ${i} must have kty "RSA" and string n, e and kid`);
    if (n.length > 2000 || e.length > 16 || kid.length > 64 || !/^[A-Za-z0-9_-]+$/.test(n + e + kid)) throw bad(`item ${i} has an oversized or non-base64url n, e or kid`);
    let bits: number;
    try {
      bits = createPublicKey({ key: { kty: "RSA", n, e }, format: "jwk" }).asymmetricKeyDetails?.modulusLength ?? 0;
    } catch {
      throw bad(`item ${i} is not a valid RSA public key`);
    }
    if (bits < MIN_BITS || bits > MAX_BITS) throw bad(`item ${i} is RSA-${bits}; ${MIN_BITS} to ${MAX_BITS} bits are accepted`);
    const thumbprint = await calculateJwkThumbprint({ kty: "RSA", n, e }, "sha256");
    if (thumbprint !== kid) throw bad(`item ${i} has kid "${kid}", which is not the RFC 7638 thumbprint of its key`);
    out.push({ kty: "RSA", n, e, kid, use: "enc", alg: "RSA-OAEP-256" });
  }
  return out;
}
