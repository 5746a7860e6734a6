// The bridge from the plugin pool to signed bundles: turns `name@version` into the PluginSource
// of a verified, cached bundle via resolvePluginBundle(), with the key that verified it (the
// runner's resolver, runner-bundles.ts, reuses a verification only while that key stands).

import { EdgeError } from "../errors.ts";
import { BUILTIN_PLUGINS } from "../plugins/builtin/index.ts";
import type { PluginRef } from "../plugins/plugin-ref.ts";
import type { PluginSource } from "../plugins/worker-protocol.ts";
import { verifiedBundleSource } from "./verified-source.ts";
import { resolvePluginBundle, type ResolvePluginBundleOptions } from "./bundle-fetcher.ts";

export type BundleResolverOptions = Omit<ResolvePluginBundleOptions, "plugin" | "version" | "signal" | "keysStamp">;

/** A verified bundle to run, and the key that verified it. */
export interface VerifiedResolution {
  source: PluginSource;
  kid: string;
  keyExpiresAt?: number;
}

/** Resolves one ref; `keysStamp` (trustedKeysStamp()) keeps it from joining a download started under other keys. */
export type BundleResolver = (ref: PluginRef, signal: AbortSignal, keysStamp?: string) => Promise<VerifiedResolution>;

export function createBundleResolver(options: BundleResolverOptions): BundleResolver {
  return async function resolveSignedBundle(ref, signal, keysStamp) {
    // A bundle is only ever identified by name and version: "latest" would be unsigned intent.
    if (ref.version === undefined) {
      throw new EdgeError("plugin_not_found", noBuiltinMessage(ref.name));
    }
    const resolved = await resolvePluginBundle({ ...options, plugin: ref.name, version: ref.version, signal, ...(keysStamp === undefined ? {} : { keysStamp }) });
    // The worker runs the bytes just verified, never a second read of the cache file.
    const source = verifiedBundleSource({ name: resolved.manifest.name, version: resolved.manifest.version, digest: resolved.manifest.digest, bytes: resolved.bytes });
    return { source, kid: resolved.kid, ...(resolved.keyExpiresAt === undefined ? {} : { keyExpiresAt: resolved.keyExpiresAt }) };
  };
}

/** What to say when a job names a plugin without a version that is not a built-in. */
export function noBuiltinMessage(name: string): string {
  const builtins = [...BUILTIN_PLUGINS.keys()].map((n) => `"${n}"`).join(", ");
  return `Cannot find plugin "${name}": no built-in plugin is named "${name}" (the built-ins are ${builtins}), and a plugin bundle is named name@version ("${name}@1.2.3")`;
}
