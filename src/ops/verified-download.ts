// The verified download shared by `edge-runner update` (install.sh does the same steps in sh):
// fetch SHA256SUMS and its signature, verify the signature against the trusted release keys
// first, and only then fetch the asset and compare its SHA-256. Nothing unverified is returned.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EdgeError, errorMessage } from "../errors.ts";
import { parseChecksums, sha256Hex } from "./checksums.ts";
import { RELEASE_FILES } from "./release-assets.ts";
import { verifyDetached, type TrustedKey } from "./release-signature.ts";
import { readLimited } from "../util/read-limited.ts";
import { publicUrl } from "../config/url.ts";
import { readFileBounded } from "../util/read-file-bounded.ts";
import { outboundFetch } from "../platform/outbound-fetch.ts";

export interface VerifiedDownloadOptions {
  /** An http(s) base URL, a file:// URL or a local directory holding the release files. */
  source: string;
  /** File name of the asset, e.g. "edge-runner-linux-x64". */
  asset: string;
  keys: readonly TrustedKey[];
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Upper bound of the asset size; a larger body is refused while it streams. */
  maxBytes?: number;
}

export interface VerifiedAsset {
  name: string;
  bytes: Uint8Array;
  sha256: string;
  /** `kid` of the release key that signed SHA256SUMS. */
  signedBy: string;
}

const MAX_CHECKSUMS_BYTES = 64 * 1024;
const DEFAULT_MAX_ASSET_BYTES = 512 * 1024 * 1024;

export async function downloadVerified(options: VerifiedDownloadOptions): Promise<VerifiedAsset> {
  const get = (name: string, max: number) => fetchFile({ ...options, name, maxBytes: max });
  const [sums, jws] = await Promise.all([get(RELEASE_FILES.checksums, MAX_CHECKSUMS_BYTES), get(RELEASE_FILES.signature, MAX_CHECKSUMS_BYTES)]);
  const signedBy = await verifyDetached(sums, new TextDecoder().decode(jws), options.keys);
  const expected = parseChecksums(new TextDecoder().decode(sums)).get(options.asset);
  if (expected === undefined) throw new EdgeError("release_unverified", `Cannot verify "${options.asset}": it is not listed in SHA256SUMS`);
  const bytes = await get(options.asset, options.maxBytes ?? DEFAULT_MAX_ASSET_BYTES);
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    throw new EdgeError("release_unverified", `Cannot verify "${options.asset}": SHA-256 is ${actual}, SHA256SUMS says ${expected}`);
  }
  return { name: options.asset, bytes, sha256: actual, signedBy };
}

interface FetchFileOptions {
  source: string;
  name: string;
  maxBytes: number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

async function fetchFile(options: FetchFileOptions): Promise<Uint8Array> {
  const { source, name } = options;
  if (!/^https?:\/\//.test(source)) {
    const dir = source.startsWith("file:") ? fileURLToPath(source) : source;
    try {
      // Refused by its size before it is read, as a download is cut off past maxBytes.
      return await readFileBounded(join(dir, name), options.maxBytes);
    } catch (error) {
      throw new EdgeError("download_failed", `Cannot read release file "${join(dir, name)}": ${errorMessage(error)}`);
    }
  }
  const url = `${source.replace(/\/+$/, "")}/${name}`;
  let response: Response;
  try {
    response = await (options.fetch ?? outboundFetch)(url, { redirect: "follow", ...(options.signal === undefined ? {} : { signal: options.signal }) });
  } catch (error) {
    throw new EdgeError("download_failed", `Cannot download "${publicUrl(url)}": ${errorMessage(error)}`, { retryable: true });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new EdgeError("download_failed", `Cannot download "${publicUrl(url)}": HTTP ${response.status}`, { retryable: response.status >= 500 });
  }
  return readLimited(response.body, {
    maxBytes: options.maxBytes,
    tooLarge: () => {
      throw new EdgeError("download_failed", `Cannot download "${publicUrl(url)}": larger than ${options.maxBytes} bytes`);
    },
  });
}

