// Resolving `plugin@version` to a verified bundle file: fetch the signed manifest from the
// controller, verify it, use the cache or stream the bundle with a size cap, check the digest,
// and only then cache it. Concurrent resolves of one bundle share one download.

import { EdgeError, errorMessage } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { BundleCache } from "./bundle-cache.ts";
import { bundleError } from "./bundle-errors.ts";
import { sha256Digest } from "./digest.ts";
import type { TrustedKeyRing } from "./key-ring.ts";
import { assertPluginRef, pluginRef, type BundleManifest } from "./manifest.ts";
import { SingleFlight } from "../util/single-flight.ts";
import { checkBundleContent, verifySignedManifest } from "./verify-bundle.ts";
import { readLimited } from "../util/read-limited.ts";
import { urlOf, type UrlSource } from "../config/url.ts";

/** Default size limit of a plugin bundle (option pluginMaxBytes). */
export const DEFAULT_MAX_BUNDLE_BYTES = 32 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface ResolvePluginBundleOptions {
  plugin: string;
  version: string;
  /** Base URL of the controller, without a trailing slash (read per download: it follows a failover). */
  controllerUrl: UrlSource;
  /** Sent as `Authorization: Bearer …`. */
  auth?: { bearer: string };
  /** Extra request headers, e.g. `x-edge-runner-id` so the controller knows whose API key it is. */
  headers?: Readonly<Record<string, string>>;
  trustedKeys: TrustedKeyRing;
  cache: BundleCache;
  signal?: AbortSignal;
  maxBytes?: number;
  /** A fetch with the controller's TLS settings (custom CA); default global fetch. */
  fetch?: typeof fetch;
  logger?: Logger;
  now?: () => number;
  /**
   * The state of the trusted keys this resolve was asked under (trustedKeysStamp()): a resolve
   * joins only a download started under the same state, never one that read keys since changed.
   */
  keysStamp?: string;
}

export interface ResolvedBundle {
  /** Where the bundle is cached (for messages and tools); never import it: it may change. */
  path: string;
  /** The verified bytes: the code a worker runs (see bundleSource()). */
  bytes: Uint8Array;
  /** The signed manifest. */
  manifest: BundleManifest;
  kid: string;
  /** When the verifying key expires, if it does. */
  keyExpiresAt?: number;
  /** True when the bundle came from the cache without a download. */
  cached: boolean;
}

// One single-flight map per cache: callers sharing a cache share downloads.
const flights = new WeakMap<BundleCache, SingleFlight<ResolvedBundle>>();

export function resolvePluginBundle(options: ResolvePluginBundleOptions): Promise<ResolvedBundle> {
  try {
    assertPluginRef(options.plugin, options.version);
  } catch (error) {
    return Promise.reject(new EdgeError("input_invalid", `Cannot resolve bundle "${options.plugin}@${options.version}": ${errorMessage(error)}`));
  }
  let flight = flights.get(options.cache);
  if (flight === undefined) flights.set(options.cache, (flight = new SingleFlight()));
  const key = `${urlOf(options.controllerUrl)} ${pluginRef(options.plugin, options.version)} ${options.keysStamp ?? ""}`;
  return flight.run(key, (signal) => resolveOnce(options, signal), options.signal).catch((error: unknown) => {
    if (options.signal?.aborted && !(error instanceof EdgeError)) {
      throw new EdgeError("job_cancelled", `Cannot resolve bundle "${pluginRef(options.plugin, options.version)}": cancelled`, { cause: error });
    }
    throw error;
  });
}

async function resolveOnce(options: ResolvePluginBundleOptions, signal: AbortSignal): Promise<ResolvedBundle> {
  const ref = pluginRef(options.plugin, options.version);
  const base = `${urlOf(options.controllerUrl)}/api/v1/plugins/${encodeURIComponent(options.plugin)}/${encodeURIComponent(options.version)}`;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  // Re-read the trusted keys for every download so an added or removed key counts at once.
  await options.trustedKeys.reload();

  const served = await getManifest(options, `${base}/manifest`, ref, signal);
  const { manifest, kid, keyExpiresAt } = await verifySignedManifest({
    signature: served.signature,
    manifest: served.manifest,
    keyRing: options.trustedKeys,
    expected: { name: options.plugin, version: options.version },
    maxBytes,
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  try {
    const cachedBytes = await options.cache.load(manifest);
    if (cachedBytes !== undefined) return { path: options.cache.pathFor(manifest.digest), bytes: cachedBytes, manifest, kid, ...expiry(keyExpiresAt), cached: true };
  } catch (error) {
    if (!(error instanceof EdgeError) || error.code !== "bundle_cache_corrupt") throw error;
    // A corrupt cache file is deleted by load(); download it once more.
    options.logger?.warn(error.message, { code: error.code, plugin: ref });
  }

  const bytes = await download(options, `${base}/bundle`, manifest, maxBytes, signal);
  const path = await options.cache.store(manifest, bytes);
  options.logger?.info(`Cached bundle "${ref}"`, { plugin: ref, digest: manifest.digest, kid, size: manifest.size });
  return { path, bytes, manifest, kid, ...expiry(keyExpiresAt), cached: false };
}

function expiry(keyExpiresAt: number | undefined): { keyExpiresAt?: number } {
  return keyExpiresAt === undefined ? {} : { keyExpiresAt };
}

async function request(options: ResolvePluginBundleOptions, url: string, ref: string, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== undefined) headers.authorization = `Bearer ${options.auth.bearer}`;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, { headers, signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new EdgeError("connection_failed", `Cannot download bundle "${ref}": ${errorMessage(error)}`, { retryable: true, cause: error });
  }
  if (response.ok) return response;
  await response.body?.cancel();
  if (response.status === 404) throw bundleError("bundle_not_found", ref, "the controller has no such plugin version", { action: "download" });
  if (response.status === 401) throw new EdgeError("unauthorized", `Cannot download bundle "${ref}": the controller answered 401`);
  if (response.status === 403) throw new EdgeError("forbidden", `Cannot download bundle "${ref}": the controller answered 403`);
  throw new EdgeError("connection_failed", `Cannot download bundle "${ref}": the controller answered ${response.status}`, { retryable: true });
}

async function getManifest(options: ResolvePluginBundleOptions, url: string, ref: string, signal: AbortSignal): Promise<{ manifest: unknown; signature: unknown }> {
  const response = await request(options, url, ref, signal);
  const text = new TextDecoder().decode(await readLimited(response.body, {
    maxBytes: MAX_MANIFEST_BYTES,
    tooLarge: () => {
      throw new EdgeError("protocol_error", `Cannot download bundle "${ref}": manifest answer exceeds ${MAX_MANIFEST_BYTES} bytes`);
    },
    broken: truncated(ref, signal),
  }));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new EdgeError("protocol_error", `Cannot download bundle "${ref}": manifest answer is not JSON`);
  }
  if (body === null || typeof body !== "object") throw new EdgeError("protocol_error", `Cannot download bundle "${ref}": manifest answer is not an object`);
  const { manifest, signature } = body as { manifest?: unknown; signature?: unknown };
  return { manifest, signature };
}

async function download(options: ResolvePluginBundleOptions, url: string, manifest: BundleManifest, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  const ref = pluginRef(manifest.name, manifest.version);
  const response = await request(options, url, ref, signal);
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw bundleError("bundle_too_large", ref, `the controller announces ${declared} bytes, over the limit of ${maxBytes}`, { action: "download" });
  }
  // Past the limit it is too large; past the signed size (but under the limit) it is not the signed bundle.
  const cap = Math.min(maxBytes, manifest.size);
  const bytes = await readLimited(response.body, {
    maxBytes: cap,
    tooLarge: (got) => {
      if (got > maxBytes) throw bundleError("bundle_too_large", ref, `received more than the limit of ${maxBytes} bytes`, { action: "download" });
      throw bundleError("bundle_digest_mismatch", ref, `received more than the signed size of ${manifest.size} bytes`, { action: "download" });
    },
    broken: truncated(ref, signal),
  });
  checkBundleContent(manifest, { size: bytes.byteLength, digest: sha256Digest(bytes) });
  return bytes;
}

/** A read that broke off: the job's own abort, or a truncated download worth one retry. */
function truncated(ref: string, signal: AbortSignal): (error: unknown, got: number) => never {
  return (error, got) => {
    if (signal.aborted) throw signal.reason;
    throw bundleError("bundle_truncated", ref, `the download broke off after ${got} bytes (${errorMessage(error)})`, { action: "download", retryable: true, cause: error });
  };
}
