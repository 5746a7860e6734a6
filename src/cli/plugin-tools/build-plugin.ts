// `plugin build`: bundle an entry, read the plugin's name, version and actions from its
// definePlugin() export, and write `<name>-<version>.mjs` with its manifest next to it.

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { randomBytes } from "node:crypto";
import { EdgeError, errorMessage } from "../../errors.ts";
import { isPluginDefinition } from "../../plugins/sdk.ts";
import { VERSION } from "../../version.ts";
import { writeFileAtomic } from "../../util/atomic-write.ts";
import { bundleEntry, type BundlerChoice } from "../../plugin-bundles/bundler.ts";
import { sha256Digest } from "../../plugin-bundles/digest.ts";
import { assertPluginRef, bundleFileBase, type BundleManifest } from "../../plugin-bundles/manifest.ts";

export interface BuildPluginOptions {
  entry: string;
  outDir: string;
  /** Must equal the plugin's own name when it can be read; needed when it cannot. */
  name?: string;
  version?: string;
  bundler?: BundlerChoice;
  now?: () => Date;
}

export interface BuiltPlugin {
  manifest: BundleManifest;
  bundlePath: string;
  manifestPath: string;
  bundler: string;
}

export async function buildPlugin(options: BuildPluginOptions): Promise<BuiltPlugin> {
  const { code, bundler } = await bundleEntry(options.entry, options.bundler ?? "auto");
  const declared = await readDefinition(code, options.outDir, options.entry);
  const name = pick("name", options.name, declared?.name, options.entry);
  const version = pick("version", options.version, declared?.version, options.entry);
  try {
    assertPluginRef(name, version);
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${options.entry}": ${errorMessage(error)}`);
  }
  const manifest: BundleManifest = {
    name,
    version,
    digest: sha256Digest(code),
    size: code.byteLength,
    // The SDK ships inside edge-runner, so the SDK version is the version of this tool.
    sdkVersion: VERSION,
    builtAt: (options.now ?? (() => new Date()))().toISOString(),
    ...(declared === undefined ? {} : { actions: declared.actions }),
  };
  const base = join(options.outDir, bundleFileBase(name, version));
  const bundlePath = `${base}.mjs`, manifestPath = `${base}.manifest.json`;
  await writeFileAtomic(bundlePath, code);
  await writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return { manifest, bundlePath, manifestPath, bundler };
}

interface Declared {
  name: string;
  version: string;
  actions: string[];
}

/**
 * Imports the bundle once to read its definition. This runs the author's top-level code in this
 * process: the author is building their own plugin, so that is their code on their machine.
 */
async function readDefinition(code: Uint8Array, outDir: string, entry: string): Promise<Declared | undefined> {
  const probe = join(outDir, `.probe-${randomBytes(6).toString("hex")}.mjs`);
  await writeFileAtomic(probe, code);
  try {
    const mod = (await import(pathToFileURL(probe).href)) as { default?: unknown };
    if (!isPluginDefinition(mod.default)) return undefined;
    return { name: mod.default.name, version: mod.default.version, actions: Object.keys(mod.default.actions).sort() };
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": importing the bundle failed (${errorMessage(error)})`);
  } finally {
    await rm(probe, { force: true });
  }
}

function pick(field: string, flag: string | undefined, declared: string | undefined, entry: string): string {
  if (flag !== undefined && declared !== undefined && flag !== declared) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": --${field} "${flag}" differs from the plugin's own ${field} "${declared}"`);
  }
  const value = flag ?? declared;
  if (value === undefined) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": its default export is not definePlugin({...}); pass --${field}`);
  }
  return value;
}
