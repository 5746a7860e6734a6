// Encrypted values inside a job's input: `{"$secret": "<compact JWE>"}` (or an array of JWEs,
// one per runner key of the group) at any depth. The runner replaces each with its plaintext
// just before the run and registers it with the job's redaction scope; one it cannot decrypt
// fails the job at once, naming the input path and the key id.

import { EdgeError } from "../errors.ts";
import { decryptJwe } from "./jwe.ts";
import type { RunnerKeyRing } from "./key-ring.ts";

export const SECRET_MARKER = "$secret";
/** Deeper inputs are refused rather than walked (the controller bounds depth too). */
const MAX_DEPTH = 64;
const MAX_SECRETS = 256;

interface Scope {
  add(value: string): void;
}

/** True when `value` is a `{"$secret": …}` marker object. */
export function isSecretMarker(value: unknown): value is { $secret: string | string[] } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === SECRET_MARKER;
}

/**
 * True when the input holds at least one marker (so a ring without keys can still run plain jobs),
 * or nests an object past the depth bound: a marker may hide there, so the walk must see it and
 * refuse the input (input_invalid, naming the path) rather than hand a plugin the ciphertext.
 */
export function hasInputSecrets(input: unknown, depth = 0): boolean {
  if (input === null || typeof input !== "object") return false;
  if (depth > MAX_DEPTH) return true;
  if (isSecretMarker(input)) return true;
  return Object.values(input).some((item) => hasInputSecrets(item, depth + 1));
}

/** A copy of `input` with every marker replaced by its plaintext. */
export async function decryptInputSecrets(input: unknown, ring: RunnerKeyRing, scope: Scope): Promise<unknown> {
  let count = 0;
  const walk = async (value: unknown, path: string, depth: number): Promise<unknown> => {
    if (value === null || typeof value !== "object") return value;
    if (depth > MAX_DEPTH) throw new EdgeError("input_invalid", `Cannot read the job input at "${path}": nested deeper than ${MAX_DEPTH} levels`);
    if (isSecretMarker(value)) {
      if (++count > MAX_SECRETS) throw new EdgeError("input_invalid", `Cannot read the job input: more than ${MAX_SECRETS} encrypted values`);
      const plain = await decryptJwe(ring, value.$secret, `the secret at input path "${path || "(root)"}"`);
      scope.add(plain);
      return plain;
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) out.push(await walk(value[i], `${path}[${i}]`, depth + 1));
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // Defined, not assigned: `out["__proto__"] = …` would set the copy's prototype and lose the key.
      Object.defineProperty(out, key, { value: await walk(item, path === "" ? key : `${path}.${key}`, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  return hasInputSecrets(input) ? walk(input, "", 0) : input;
}
