// The runner's bundle resolver: `plugin@version` from its controller, authenticated with the
// runner's API key, verified against the trusted keys, cached under the data dir. Every refusal
// is counted and logged, and fails only the job that asked for the bundle.

import { existsSync, statSync } from "node:fs";
import { EdgeError, serializeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { PluginResolver } from "../plugins/plugin-ref.ts";
import { BundleCache } from "./bundle-cache.ts";
import { isBundleErrorCode } from "./bundle-errors.ts";
import { createBundleResolver, noBuiltinMessage } from "./bundle-resolver.ts";
import { urlOf, type UrlSource } from "../config/url.ts";
import { defaultTrustedKeysPath, TrustedKeyRing } from "./key-ring.ts";

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
  let inner: PluginResolver | undefined;
  // A verified resolution is reused for `recheckMs`: without it every bundle job costs a manifest
  // request to the controller and a re-hash of the cached file. Any change to the trusted keys
  // (a key added or removed changes the file's or directory's mtime) drops every reuse at once,
  // so a removed key still stops the next job.
  const verified = new Map<string, { source: Awaited<ReturnType<PluginResolver>>; at: number }>();
  const recheckMs = options.recheckMs ?? 0;
  const now = options.now ?? Date.now;
  let keysStamp = trustedStamp(trustedPath);
  // A reuse is answered synchronously: the pool dispatches it in the same turn as the offer.
  return function resolveRunnerBundle(ref, signal) {
    // A name without a version is a built-in that does not exist, not a bundle: say that first.
    if (ref.version === undefined) return Promise.reject(new EdgeError("plugin_not_found", noBuiltinMessage(ref.name)));
    const stamp = trustedStamp(trustedPath);
    if (stamp !== keysStamp) {
      verified.clear();
      keysStamp = stamp;
    }
    const key = `${ref.name}@${ref.version ?? ""}`;
    const hit = verified.get(key);
    if (hit !== undefined && now() - hit.at < recheckMs) return hit.source;
    return verify(ref, signal, key);
  };

  async function verify(ref: Parameters<PluginResolver>[0], signal: AbortSignal, key: string): Promise<Awaited<ReturnType<PluginResolver>>> {
    try {
      inner ??= createBundleResolver({
        controllerUrl: () => urlOf(options.controllerUrl).replace(/\/+$/, ""),
        auth: { bearer: options.apiKey },
        headers: { [RUNNER_ID_HEADER]: options.runnerId },
        trustedKeys: await keys(),
        cache,
        maxBytes: options.maxBytes,
        logger: log,
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      });
      const source = await inner(ref, signal);
      if (recheckMs > 0) verified.set(key, { source, at: now() });
      return source;
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

/** Changes whenever a trusted key file or the key directory changes; "" when it is missing. */
function trustedStamp(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return "";
  }
}
