// The runner's bundle resolver: `plugin@version` from its controller, authenticated with the
// runner's API key, verified against the trusted keys, cached under the data dir. Every refusal
// is counted and logged, and fails only the job that asked for the bundle.

import { existsSync } from "node:fs";
import { EdgeError, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { PluginResolver } from "../plugins/plugin-ref.ts";
import { BundleCache } from "./bundle-cache.ts";
import { isBundleErrorCode } from "./bundle-errors.ts";
import { createBundleResolver, noBuiltinMessage, type BundleResolver } from "./bundle-resolver.ts";
import { urlOf, type UrlSource } from "../config/url.ts";
import { defaultTrustedKeysPath, TrustedKeyRing, trustedKeysStamp } from "./key-ring.ts";
import type { PluginSource } from "../plugins/worker-protocol.ts";

/** The header naming the runner whose API key is the bearer credential of a bundle download. */
export const RUNNER_ID_HEADER = "x-edge-runner-id";

export interface RunnerBundleResolverOptions {
  controllerUrl: UrlSource;
  runnerId: string;
  apiKey: string;
  dataDir: string;
  /** Directory or JWKS file of trusted signing keys; default `<dataDir>/trusted-keys`. */
  trustedKeys?: string;
  maxBytes: number;
  logger: Logger;
  /** Called with the code of every refused bundle (metrics). */
  onRefused?: (code: string) => void;
  fetch?: typeof fetch;
  /**
   * How long a verified resolution is reused before it is checked with the controller again
   * (manifest, signature, trusted keys, cached file's digest). 0 checks for every job.
   */
  recheckMs?: number;
  now?: () => number;
}

export function runnerBundleResolver(options: RunnerBundleResolverOptions): PluginResolver {
  const log = options.logger.child({ component: "plugin-bundles" });
  const trustedPath = options.trustedKeys ?? defaultTrustedKeysPath(options.dataDir);
  const cache = BundleCache.forDataDir(options.dataDir);
  let ring: Promise<TrustedKeyRing> | undefined;
  // Loaded on first use (and re-read by every download), so a runner that runs only built-ins
  // needs no key directory; a missing or bad one fails the bundle job, never the runner.
  const keys = (): Promise<TrustedKeyRing> => {
    ring ??= TrustedKeyRing.load(trustedPath).catch((error: unknown) => {
      ring = undefined;
      // No key directory is the first thing a new author meets: say what to put where.
      if (!existsSync(trustedPath)) {
        throw new EdgeError("bundle_key_unknown", `Cannot verify plugin bundles: this runner trusts no signing key yet ("${trustedPath}" does not exist); copy the publisher's public key (its .pub.jwk file) into that directory, or set --trusted-keys (see docs/plugin-quickstart.md)`);
      }
      throw error;
    });
    return ring;
  };
  let inner: BundleResolver | undefined;
  // The ring as last loaded (or reloaded by a download): a reuse whose key it no longer holds, or
  // holds with another expiry, is checked again.
  let loaded: TrustedKeyRing | undefined;
  // A verified resolution is reused for `recheckMs`: without it every bundle job costs a manifest
  // request to the controller and a re-hash of the cached file. A reuse never outlives what would
  // refuse the bundle now: any change to the trusted keys on disk (trustedKeysStamp(): the path
  // and every key file, so an in-place edit counts) drops every reuse at once; a reuse ends when
  // the key that verified it expires or leaves the loaded ring; a verification is kept only if the
  // keys did not change while it ran, and a job never joins one started under other keys.
  const verified = new Map<string, Reuse>();
  const recheckMs = options.recheckMs ?? 0;
  const now = options.now ?? Date.now;
  let keysStamp = trustedKeysStamp(trustedPath);
  // A reuse is answered synchronously: the pool dispatches it in the same turn as the offer.
  return function resolveRunnerBundle(ref, signal) {
    // A name without a version is a built-in that does not exist, not a bundle: say that first.
    if (ref.version === undefined) return Promise.reject(new EdgeError("plugin_not_found", noBuiltinMessage(ref.name)));
    const stamp = trustedKeysStamp(trustedPath);
    if (stamp !== keysStamp) {
      verified.clear();
      keysStamp = stamp;
    }
    const key = `${ref.name}@${ref.version ?? ""}`;
    const hit = verified.get(key);
    if (hit !== undefined) {
      if (reusable(hit, now())) return hit.source;
      verified.delete(key);
    }
    return verify(ref, signal, key, stamp);
  };

  function reusable(hit: Reuse, at: number): boolean {
    if (at - hit.at >= recheckMs) return false;
    if (hit.keyExpiresAt !== undefined && at >= hit.keyExpiresAt) return false;
    const trusted = loaded?.get(hit.kid);
    return trusted !== undefined && trusted.expiresAt === hit.keyExpiresAt;
  }

  async function verify(ref: Parameters<PluginResolver>[0], signal: AbortSignal, key: string, stamp: string): Promise<PluginSource> {
    try {
      const trustedKeys = await keys();
      loaded = trustedKeys;
      inner ??= createBundleResolver({
        controllerUrl: () => urlOf(options.controllerUrl).replace(/\/+$/, ""),
        auth: { bearer: options.apiKey },
        headers: { [RUNNER_ID_HEADER]: options.runnerId },
        trustedKeys,
        cache,
        maxBytes: options.maxBytes,
        logger: log,
        now,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      });
      const resolved = await inner(ref, signal, stamp);
      // Kept only if the keys it was checked against are still the keys on disk.
      if (recheckMs > 0 && trustedKeysStamp(trustedPath) === stamp) {
        verified.set(key, { source: resolved.source, at: now(), kid: resolved.kid, ...(resolved.keyExpiresAt === undefined ? {} : { keyExpiresAt: resolved.keyExpiresAt }) });
      }
      return resolved.source;
    } catch (error) {
      verified.delete(key);
      const wire = serializeError(error);
      const plugin = ref.version === undefined ? ref.name : `${ref.name}@${ref.version}`;
      if (isBundleErrorCode(wire.code)) {
        options.onRefused?.(wire.code);
        log.warn("Refused plugin bundle", { plugin, code: wire.code, error: wire.message });
      } else {
        log.warn("Cannot resolve plugin bundle", { plugin, code: wire.code, error: wire.message });
      }
      throw error instanceof EdgeError ? error : new EdgeError("plugin_not_found", wire.message, { cause: error });
    }
  }
}

/** A verification reused for later jobs, with the key that made it. */
interface Reuse {
  source: PluginSource;
  /** When it was verified (options.now). */
  at: number;
  kid: string;
  keyExpiresAt?: number;
}
