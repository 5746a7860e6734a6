// Which release keys to trust: the built-in ones, or (for a mirror that re-signs releases) the
// keys in `releasePublicKeyFile`, as a PEM public key, a JWK or a JWK set.

import type { JWK } from "jose";
import { EdgeError, errorMessage } from "../errors.ts";
import { RELEASE_PUBLIC_KEYS } from "./release-key.ts";
import type { TrustedKey } from "./release-signature.ts";
import { MAX_CONFIG_FILE_BYTES } from "../config/read-config-text.ts";
import { readTextFileBounded } from "../util/read-file-bounded.ts";

export async function loadTrustedReleaseKeys(file: string | undefined): Promise<readonly TrustedKey[]> {
  if (file === undefined) return RELEASE_PUBLIC_KEYS;
  let text: string;
  try {
    text = await readTextFileBounded(file, MAX_CONFIG_FILE_BYTES);
  } catch (error) {
    throw new EdgeError("config_invalid", `Cannot read release public key "${file}": ${errorMessage(error)}`);
  }
  if (text.includes("-----BEGIN PUBLIC KEY-----")) return [text];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EdgeError("config_invalid", `Cannot read release public key "${file}": expected a PEM public key, a JWK or a JWK set`);
  }
  const keys = (parsed as { keys?: unknown }).keys ?? [parsed];
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every(isPublicEd25519)) {
    throw new EdgeError("config_invalid", `Cannot read release public key "${file}": expected Ed25519 public keys (kty "OKP", crv "Ed25519", no "d")`);
  }
  return keys as JWK[];
}

function isPublicEd25519(value: unknown): value is JWK {
  const jwk = value as JWK | null;
  return jwk !== null && typeof jwk === "object" && jwk.kty === "OKP" && jwk.crv === "Ed25519" && typeof jwk.x === "string" && jwk.d === undefined;
}
