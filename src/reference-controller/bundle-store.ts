// The controller's store of published bundles: `<dir>/<name>/<version>/bundle.mjs` plus
// `entry.json` ({manifest, signature}), written last so a half-published version is never served.
// The controller holds no trusted keys (runners verify); it refuses bundles that do not match
// their own manifest, and a published version is immutable except for a new signature.

import { createReadStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { EdgeError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { bundleError } from "../plugin-bundles/bundle-errors.ts";
import { digestEquals, sha256Digest } from "../plugin-bundles/digest.ts";
import { assertPluginRef, manifestDifferences, parseManifest, pluginRef, type BundleManifest } from "../plugin-bundles/manifest.ts";
import { DEFAULT_MAX_BUNDLE_BYTES } from "../plugin-bundles/bundle-fetcher.ts";
import { OWN_FILE, readTextFileBounded } from "../util/read-file-bounded.ts";

export interface BundleStoreOptions {
  dir: string;
  maxBytes?: number;
}

export interface StoredBundle {
  manifest: BundleManifest;
  signature: string;
  /** The bundle's size in bytes (its manifest's). */
  size: number;
  /** The bundle's bytes, read on demand. */
  body(): ReadableStream<Uint8Array>;
}

/**
 * Where published bundles live: the controller's disk (the default) or PostgreSQL with
 * `storeUrl` (postgres/pg-bundles.ts), so every replica serves every version.
 */
export interface ControllerBundles {
  readonly maxBytes: number;
  /** Stores a bundle; `created` is false when the version existed and only its signature changed. */
  put(input: PutBundleInput): Promise<{ created: boolean; manifest: BundleManifest }>;
  get(name: string, version: string): Promise<StoredBundle | undefined>;
}

export interface PutBundleInput {
  name: string;
  version: string;
  bundle: Uint8Array;
  manifest: unknown;
  signature: string;
}

export class BundleStore implements ControllerBundles {
  readonly #dir: string;
  readonly #maxBytes: number;
  // Serialises publishes of one version so two uploads cannot interleave their files.
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: BundleStoreOptions) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Stores a bundle; `created` is false when the version existed and only its signature changed. */
  async put(input: PutBundleInput): Promise<{ created: boolean; manifest: BundleManifest }> {
    const ref = pluginRef(input.name, input.version);
    const manifest = checkUpload(input, ref, this.#maxBytes);
    const key = ref;
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.#write(input, manifest, ref));
    this.#locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === run) this.#locks.delete(key);
    }
  }

  async get(name: string, version: string): Promise<StoredBundle | undefined> {
    try {
      assertPluginRef(name, version);
    } catch {
      return undefined;
    }
    const dir = join(this.#dir, name, version);
    let text: string;
    try {
      // A manifest and its signature: a few KiB; a bigger file is not an entry this store wrote.
      text = await readTextFileBounded(join(dir, "entry.json"), 64 * 1024, OWN_FILE);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      throw error;
    }
    const entry = JSON.parse(text) as { manifest: unknown; signature: string };
    const manifest = parseManifest(entry.manifest);
    const file = join(dir, "bundle.mjs");
    return { manifest, signature: entry.signature, size: manifest.size, body: () => Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array> };
  }

  async #write(input: PutBundleInput, manifest: BundleManifest, ref: string): Promise<{ created: boolean; manifest: BundleManifest }> {
    const existing = await this.get(input.name, input.version);
    if (existing !== undefined && !digestEquals(existing.manifest.digest, manifest.digest)) {
      throw new EdgeError("conflict", `Cannot store bundle "${ref}": version already published with digest "${existing.manifest.digest}"; publish a new version`);
    }
    const dir = join(this.#dir, input.name, input.version);
    await mkdir(dir, { recursive: true });
    if (existing === undefined) await writeFileAtomic(join(dir, "bundle.mjs"), input.bundle);
    await writeFileAtomic(join(dir, "entry.json"), JSON.stringify({ manifest, signature: input.signature }) + "\n");
    return { created: existing === undefined, manifest };
  }
}

/** Everything the controller can check without trusted keys; the runner checks the rest. Shared by both stores. */
export function checkUpload(input: PutBundleInput, ref: string, maxBytes: number): BundleManifest {
  try {
    assertPluginRef(input.name, input.version);
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot store bundle "${ref}": ${errorMessage(error)}`);
  }
  const action = { action: "store" };
  let manifest: BundleManifest;
  try {
    manifest = parseManifest(input.manifest);
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot store bundle "${ref}": ${errorMessage(error)}`);
  }
  if (manifest.name !== input.name) throw bundleError("bundle_name_mismatch", ref, `manifest names "${manifest.name}"`, action);
  if (manifest.version !== input.version) throw bundleError("bundle_version_mismatch", ref, `manifest has version "${manifest.version}"`, action);
  if (input.bundle.byteLength > maxBytes) throw bundleError("bundle_too_large", ref, `size ${input.bundle.byteLength} bytes exceeds the limit of ${maxBytes}`, action);
  if (input.bundle.byteLength !== manifest.size) throw bundleError("bundle_digest_mismatch", ref, `got ${input.bundle.byteLength} bytes, the manifest says ${manifest.size}`, action);
  const digest = sha256Digest(input.bundle);
  if (!digestEquals(digest, manifest.digest)) throw bundleError("bundle_digest_mismatch", ref, `digest is "${digest}", the manifest says "${manifest.digest}"`, action);
  if (input.signature === "") throw bundleError("bundle_unsigned", ref, "signature missing", action);
  // Not a security check (the controller holds no keys): it catches a wrong --signature file at publish time.
  let signed: BundleManifest;
  try {
    decodeProtectedHeader(input.signature);
    const payload = input.signature.split(".")[1] ?? "";
    signed = parseManifest(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch (error) {
    throw bundleError("bundle_signature_invalid", ref, `signature is not a signed manifest (${errorMessage(error)})`, action);
  }
  const diff = manifestDifferences(signed, manifest);
  if (diff.length > 0) throw bundleError("bundle_signature_invalid", ref, `signature is for another manifest (differs in ${diff.map((f) => `"${f}"`).join(", ")})`, action);
  return manifest;
}
