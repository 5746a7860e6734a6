// The PluginSource of a verified bundle: a data: URL of the verified bytes, so the worker imports
// exactly what was checked. A path would be read again at import time, and a file swapped in
// between would run unchecked (time of check to time of use).

import type { PluginSource } from "../plugins/worker-protocol.ts";
import { withCurrentRequireShim } from "./require-shim.ts";

export function verifiedBundleSource(bundle: { name: string; version: string; digest: string; bytes: Uint8Array }): PluginSource {
  // Bytes that matched one digest are the same bytes: their URL is built once, not per check.
  const url = urls.get(bundle.digest) ?? remember(bundle.digest, dataUrl(bundle.bytes));
  return { kind: "bundle", url, id: bundle.digest, name: bundle.name, version: bundle.version };
}

function dataUrl(verified: Uint8Array): string {
  // The one rewrite: an older require() shim line for the current one (see require-shim.ts).
  return `data:text/javascript;base64,${withCurrentRequireShim(verified).toString("base64")}`;
}

/** The URLs of the last few digests (a runner runs a handful of bundles; each may be 32 MiB). */
const urls = new Map<string, string>();
const REMEMBERED = 8;

function remember(digest: string, url: string): string {
  urls.set(digest, url);
  if (urls.size > REMEMBERED) urls.delete(urls.keys().next().value as string);
  return url;
}
