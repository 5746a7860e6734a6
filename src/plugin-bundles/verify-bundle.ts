// Deciding whether a bundle may run. Fails closed, one stable code per reason, in this order:
// signature present → well-formed → key known → key not expired → signature valid → the served
// manifest equals the signed one → name → version → size limit → length → digest.

import { compactVerify, decodeProtectedHeader } from "jose";
import { errorMessage } from "../errors.ts";
import { bundleError } from "./bundle-errors.ts";
import { digestEquals, sha256Digest } from "./digest.ts";
import type { TrustedKeyRing } from "./key-ring.ts";
import { manifestDifferences, parseManifest, pluginRef, type BundleManifest } from "./manifest.ts";
import { SIGNATURE_TYP } from "./sign-manifest.ts";

/** What was asked for (by a job, or by `plugin verify`): the bundle must be exactly this plugin and version. */
export interface ExpectedBundle {
  name: string;
  version: string;
}

export interface VerifyManifestOptions {
  /** The compact JWS; absent, null or empty means unsigned. Untrusted, hence `unknown`. */
  signature: unknown;
  keyRing: TrustedKeyRing;
  expected: ExpectedBundle;
  /** Largest bundle accepted, in bytes. */
  maxBytes: number;
  /** The manifest served next to the signature, if any: it must equal the signed payload. */
  manifest?: unknown;
  now?: () => number;
}

export interface VerifiedManifest {
  /** The signed payload: the only manifest the runner trusts. */
  manifest: BundleManifest;
  kid: string;
  /** When the verifying key expires (its `exp`), if it does: a reuse of this verification ends then. */
  keyExpiresAt?: number;
}

/** Checks the signature and every signed field that can be checked before the bytes are read. */
export async function verifySignedManifest(options: VerifyManifestOptions): Promise<VerifiedManifest> {
  const ref = pluginRef(options.expected.name, options.expected.version);
  const { signature } = options;
  if (signature === undefined || signature === null || signature === "") throw bundleError("bundle_unsigned", ref, "signature missing");
  if (typeof signature !== "string") throw bundleError("bundle_signature_invalid", ref, "signature is not a string");

  let header;
  try {
    header = decodeProtectedHeader(signature);
  } catch (error) {
    throw bundleError("bundle_signature_invalid", ref, `signature is not a compact JWS (${errorMessage(error)})`);
  }
  if (header.typ !== SIGNATURE_TYP) throw bundleError("bundle_signature_invalid", ref, `signature type is ${JSON.stringify(header.typ)}, expected "${SIGNATURE_TYP}"`);
  if (header.alg !== "EdDSA" && header.alg !== "Ed25519") throw bundleError("bundle_signature_invalid", ref, `signature algorithm is ${JSON.stringify(header.alg)}, expected "EdDSA"`);
  if (typeof header.kid !== "string" || header.kid === "") throw bundleError("bundle_signature_invalid", ref, "signature has no key id");

  const kid = header.kid;
  const trusted = options.keyRing.get(kid);
  if (trusted === undefined) {
    const known = options.keyRing.kids.map((k) => `"${k}"`).join(", ") || "none";
    throw bundleError("bundle_key_unknown", ref, `signed by key "${kid}", which is not trusted (trusted: ${known})`);
  }
  const now = (options.now ?? Date.now)();
  if (trusted.expiresAt !== undefined && now >= trusted.expiresAt) {
    throw bundleError("bundle_key_expired", ref, `signing key "${kid}" expired at ${new Date(trusted.expiresAt).toISOString()}`);
  }

  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(signature, trusted.key, { algorithms: ["EdDSA", "Ed25519"] }));
  } catch (error) {
    throw bundleError("bundle_signature_invalid", ref, `signature does not verify with key "${kid}" (${errorMessage(error)})`);
  }
  let manifest: BundleManifest;
  try {
    manifest = parseManifest(JSON.parse(new TextDecoder().decode(payload)));
  } catch (error) {
    throw bundleError("bundle_signature_invalid", ref, `signed payload is not a valid manifest (${errorMessage(error)})`);
  }

  if (options.manifest !== undefined) {
    let served: BundleManifest;
    try {
      served = parseManifest(options.manifest);
    } catch (error) {
      throw bundleError("bundle_signature_invalid", ref, `served manifest is invalid (${errorMessage(error)})`);
    }
    const diff = manifestDifferences(served, manifest);
    if (diff.length > 0) {
      throw bundleError("bundle_signature_invalid", ref, `signature is for another bundle: the signed manifest differs in ${diff.map((f) => `"${f}"`).join(", ")}`);
    }
  }
  if (manifest.name !== options.expected.name) throw bundleError("bundle_name_mismatch", ref, `signed name is "${manifest.name}", expected "${options.expected.name}"`);
  if (manifest.version !== options.expected.version) {
    throw bundleError("bundle_version_mismatch", ref, `signed version is "${manifest.version}", expected "${options.expected.version}"`);
  }
  if (manifest.size > options.maxBytes) throw bundleError("bundle_too_large", ref, `size ${manifest.size} bytes exceeds the limit of ${options.maxBytes}`);
  return { manifest, kid, ...(trusted.expiresAt === undefined ? {} : { keyExpiresAt: trusted.expiresAt }) };
}

/** Checks a received body against the signed size and digest. */
export function checkBundleContent(manifest: BundleManifest, actual: { size: number; digest: string }): void {
  const ref = pluginRef(manifest.name, manifest.version);
  if (actual.size < manifest.size) throw bundleError("bundle_truncated", ref, `got ${actual.size} of ${manifest.size} bytes`);
  if (actual.size > manifest.size) throw bundleError("bundle_digest_mismatch", ref, `got ${actual.size} bytes, the signed size is ${manifest.size}`);
  if (!digestEquals(actual.digest, manifest.digest)) throw bundleError("bundle_digest_mismatch", ref, `digest is "${actual.digest}", the signed digest is "${manifest.digest}"`);
}

export interface VerifyBundleOptions extends VerifyManifestOptions {
  bundle: Uint8Array;
}

/** The whole check for bytes in hand (CLI verify, tests): signature, fields, then content. */
export async function verifyBundle(options: VerifyBundleOptions): Promise<VerifiedManifest> {
  const verified = await verifySignedManifest(options);
  if (options.bundle.byteLength > options.maxBytes) {
    throw bundleError("bundle_too_large", pluginRef(verified.manifest.name, verified.manifest.version), `size ${options.bundle.byteLength} bytes exceeds the limit of ${options.maxBytes}`);
  }
  checkBundleContent(verified.manifest, { size: options.bundle.byteLength, digest: sha256Digest(options.bundle) });
  return verified;
}
