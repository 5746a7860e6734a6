// Writes SHA256SUMS over every file of a release directory and signs it (SHA256SUMS.jws), so the
// release script and the tests produce releases the same way.

import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import { formatChecksums } from "./checksums.ts";
import { RELEASE_FILES } from "./release-assets.ts";
import { signDetached } from "./release-signature.ts";

export interface ReleaseManifestOptions {
  dir: string;
  /** Ed25519 private JWK; without it only SHA256SUMS is written (an unsigned release). */
  signingKey?: JWK;
}

/** Files that are not release assets: the manifest itself, and dot files (build stamps). */
function isAsset(name: string): boolean {
  return name !== RELEASE_FILES.checksums && name !== RELEASE_FILES.signature && !name.startsWith(".");
}

export async function writeReleaseManifest(options: ReleaseManifestOptions): Promise<{ files: string[]; signed: boolean }> {
  const entries = await readdir(options.dir, { withFileTypes: true });
  const files = new Map<string, Uint8Array>();
  for (const entry of entries) {
    if (entry.isFile() && isAsset(entry.name)) files.set(entry.name, new Uint8Array(await readFile(join(options.dir, entry.name))));
  }
  const sums = new TextEncoder().encode(formatChecksums(files));
  await writeFile(join(options.dir, RELEASE_FILES.checksums), sums);
  if (options.signingKey === undefined) return { files: [...files.keys()].sort(), signed: false };
  await writeFile(join(options.dir, RELEASE_FILES.signature), (await signDetached(sums, options.signingKey)) + "\n");
  return { files: [...files.keys()].sort(), signed: true };
}
