// The content-addressed bundle cache, `<dataDir>/plugins/sha256/<hex>.mjs`. Only verified bytes
// are written (temp file, fsync, rename); every load reads the file once, checks the digest of
// those bytes and hands back the bytes themselves: the code that runs is what was checked, never a
// second read of a file that may have been swapped in between. A corrupt file is deleted so the
// caller downloads it once more.

import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { bundleError } from "./bundle-errors.ts";
import { digestEquals, digestHex, sha256Digest } from "./digest.ts";
import type { BundleManifest } from "./manifest.ts";
import { FileTooLargeError, NotRegularFileError, OWN_FILE, readFileBounded } from "../util/read-file-bounded.ts";

export interface BundleCacheOptions {
  /** The cache root, usually `<dataDir>/plugins`. */
  dir: string;
}

export class BundleCache {
  readonly #dir: string;

  constructor(options: BundleCacheOptions) {
    this.#dir = join(options.dir, "sha256");
  }

  static forDataDir(dataDir: string): BundleCache {
    return new BundleCache({ dir: join(dataDir, "plugins") });
  }

  pathFor(digest: string): string {
    return join(this.#dir, `${digestHex(digest)}.mjs`);
  }

  /**
   * The cached bundle's bytes after checking them, or undefined when it is not cached. Run these
   * bytes, not the file. Throws `bundle_cache_corrupt` (after deleting the file) on a mismatch.
   */
  async load(manifest: BundleManifest): Promise<Uint8Array | undefined> {
    const path = this.pathFor(manifest.digest);
    let bytes: Uint8Array;
    try {
      // The signed manifest says how big the bundle is: a bigger file is not it, and is not read.
      // Only the runner writes here, by rename: a FIFO, device or symlink at the path is not its
      // file (and a FIFO would block the resolve forever); it is removed like a corrupt file.
      bytes = await readFileBounded(path, manifest.size, OWN_FILE);
    } catch (error) {
      if ((error as { code?: unknown }).code === "ENOENT") return undefined;
      if (error instanceof NotRegularFileError || (error as { code?: unknown }).code === "ELOOP") {
        await rm(path, { force: true }).catch(() => undefined); // a directory stays: store() then names it
        const what = error instanceof NotRegularFileError ? `a ${error.kind}` : "a symlink";
        throw bundleError("bundle_cache_corrupt", `${manifest.name}@${manifest.version}`, `cached file "${path}" is ${what}, not a regular file; deleted it`, { action: "load", retryable: true });
      }
      if (error instanceof FileTooLargeError) {
        await rm(path, { force: true });
        throw bundleError("bundle_cache_corrupt", `${manifest.name}@${manifest.version}`, `cached file "${path}" is ${error.size} bytes, not the ${manifest.size} signed; deleted it`, { action: "load", retryable: true });
      }
      throw bundleError("bundle_cache_corrupt", manifest.digest, `cannot read "${path}" (${errorMessage(error)})`, { action: "load" });
    }
    const actual = sha256Digest(bytes);
    if (bytes.byteLength !== manifest.size || !digestEquals(actual, manifest.digest)) {
      await rm(path, { force: true });
      throw bundleError("bundle_cache_corrupt", `${manifest.name}@${manifest.version}`, `cached file "${path}" has digest "${actual}" (${bytes.byteLength} bytes); deleted it`, { action: "load", retryable: true });
    }
    return bytes;
  }

  /** Writes bytes that the caller has verified against `manifest`; checks the digest once more. */
  async store(manifest: BundleManifest, bytes: Uint8Array): Promise<string> {
    if (!digestEquals(sha256Digest(bytes), manifest.digest)) {
      throw bundleError("bundle_digest_mismatch", `${manifest.name}@${manifest.version}`, "refusing to cache bytes that do not match the signed digest", { action: "store" });
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = this.pathFor(manifest.digest);
    // Read-only: nothing in the runner rewrites a cached bundle.
    await writeFileAtomic(path, bytes, { mode: 0o444, dirMode: 0o700 });
    return path;
  }
}
