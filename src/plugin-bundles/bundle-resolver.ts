// The bridge from the plugin pool to signed bundles: a PluginResolver (src/plugins/plugin-ref.ts)
// that turns `name@version` into a verified, cached bundle file via resolvePluginBundle().

import { EdgeError } from "../errors.ts";
import { BUILTIN_PLUGINS } from "../plugins/builtin/index.ts";
import type { PluginResolver } from "../plugins/plugin-ref.ts";
import { verifiedBundleSource } from "./verified-source.ts";
import { resolvePluginBundle, type ResolvePluginBundleOptions } from "./bundle-fetcher.ts";

export type BundleResolverOptions = Omit<ResolvePluginBundleOptions, "plugin" | "version" | "signal">;

export function createBundleResolver(options: BundleResolverOptions): PluginResolver {
  return async function resolveSignedBundle(ref, signal) {
    // A bundle is only ever identified by name and version: "latest" would be unsigned intent.
    if (ref.version === undefined) {
      throw new EdgeError("plugin_not_found", noBuiltinMessage(ref.name));
    }
    const resolved = await resolvePluginBundle({ ...options, plugin: ref.name, version: ref.version, signal });
    // The worker runs the bytes just verified, never a second read of the cache file.
    return verifiedBundleSource({ name: resolved.manifest.name, version: resolved.manifest.version, digest: resolved.manifest.digest, bytes: resolved.bytes });
  };
}

/** What to say when a job names a plugin without a version that is not a built-in. */
export function noBuiltinMessage(name: string): string {
  const builtins = [...BUILTIN_PLUGINS.keys()].map((n) => `"${n}"`).join(", ");
  return `Cannot find plugin "${name}": no built-in plugin is named "${name}" (the built-ins are ${builtins}), and a plugin bundle is named name@version ("${name}@1.2.3")`;
}
