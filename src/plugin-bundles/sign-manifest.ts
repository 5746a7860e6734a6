// `plugin sign`: a compact JWS (EdDSA, Ed25519) whose payload is the manifest, so one signature
// binds the bundle's digest, size, name and version.

import { CompactSign } from "jose";
import type { BundleManifest } from "./manifest.ts";
import type { SigningKey } from "./signing-keys.ts";

/** The `typ` of a plugin signature; a JWS of any other type is refused (no cross-use of JWTs). */
export const SIGNATURE_TYP = "edge-runner-plugin+jws";

export async function signManifest(manifest: BundleManifest, key: SigningKey): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify(manifest));
  return new CompactSign(payload).setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: SIGNATURE_TYP }).sign(key.key);
}
