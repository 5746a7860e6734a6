// Shared test fixtures: in-memory Ed25519 signing keys, a key ring, and signed sample bundles.

import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Digest } from "../../src/plugin-bundles/digest.ts";
import { TrustedKeyRing } from "../../src/plugin-bundles/key-ring.ts";
import type { BundleManifest } from "../../src/plugin-bundles/manifest.ts";
import { signManifest } from "../../src/plugin-bundles/sign-manifest.ts";
import type { SigningKey } from "../../src/plugin-bundles/signing-keys.ts";

export interface TestKey extends SigningKey {
  publicJwk: JWK;
}

export async function makeKey(kid?: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(jwk));
  return { kid: id, key: privateKey as CryptoKey, publicJwk: { ...jwk, kid: id, alg: "EdDSA" } };
}

export function ring(...keys: Array<TestKey | (JWK & { exp?: number })>): Promise<TrustedKeyRing> {
  return TrustedKeyRing.fromJwks(keys.map((k) => ("publicJwk" in k ? (k.publicJwk as JWK) : k)));
}

export function bundleBytes(name: string, version: string, padding = 0): Uint8Array<ArrayBuffer> {
  const code = `export default { name: ${JSON.stringify(name)}, version: ${JSON.stringify(version)}, actions: { echo: async (input) => input } };\n`;
  return new TextEncoder().encode(code + "//" + "x".repeat(padding) + "\n");
}

export function manifestFor(name: string, version: string, bytes: Uint8Array): BundleManifest {
  return { name, version, digest: sha256Digest(bytes), size: bytes.byteLength, sdkVersion: "0.1.0-test", builtAt: "2026-01-01T00:00:00.000Z", actions: ["echo"] };
}

export interface SignedBundle {
  bytes: Uint8Array<ArrayBuffer>;
  manifest: BundleManifest;
  signature: string;
}

export async function signedBundle(name: string, version: string, key: TestKey, padding = 0): Promise<SignedBundle> {
  const bytes = bundleBytes(name, version, padding);
  const manifest = manifestFor(name, version, bytes);
  return { bytes, manifest, signature: await signManifest(manifest, key) };
}

export function tempDir(prefix = "edge-bundles-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Runs `fn` and returns the `code` of what it threw (fails the test when nothing is thrown). */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
  throw new Error("expected a rejection, got none");
}

/** Runs `fn` and returns what it threw, typed for code/message checks. */
export async function errorOf(fn: () => unknown): Promise<Error & { code: string; retryable: boolean }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code: string; retryable: boolean };
  }
  throw new Error("expected a rejection, got none");
}
