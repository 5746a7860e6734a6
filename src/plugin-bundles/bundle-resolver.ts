// The bridge from the plugin pool to signed bundles: a PluginResolver (src/plugins/plugin-ref.ts)
// that turns `name@version` into a verified, cached bundle file via resolvePluginBundle().

import { EdgeError } from "../errors.ts";
import type { PluginResolver } from "../plugins/plugin-ref.ts";
import { resolvePluginBundle, type ResolvePluginBundleOptions } from "./bundle-fetcher.ts";

export type BundleResolverOptions = Omit<ResolvePluginBundleOptions, "plugin" | "version" | "signal">;

export function createBundleResolver(options: BundleResolverOptions): PluginResolver {
  return async function resolveSignedBundle(ref, signal) {
    // A bundle is only ever identified by name and version: "latest" would be unsigned intent.
    if (ref.version === undefined) {
      throw new EdgeError("input_invalid", `Cannot resolve plugin "${ref.name}": a plugin bundle needs a version ("${ref.name}@1.2.3")`);
    }
    const resolved = await resolvePluginBundle({ ...options, plugin: ref.name, version: ref.version, signal });
    return { kind: "bundle", path: resolved.path, name: resolved.manifest.name, version: resolved.manifest.version };
  };
}
