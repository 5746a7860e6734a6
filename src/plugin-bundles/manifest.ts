// The bundle manifest: what a signature binds (name, version, digest, size, SDK version), its
// strict parser, and the rules for names and versions (they become URL and path segments).

import { isDigest } from "./digest.ts";
import { jsonPreview } from "../util/json-bounds.ts";

export interface BundleManifest {
  name: string;
  version: string;
  /** `sha256-<base64url>` of the bundle bytes. */
  digest: string;
  /** Bundle size in bytes. */
  size: number;
  /** Version of the plugin SDK the bundle was built against. */
  sdkVersion: string;
  /** ISO 8601 time of the build. */
  builtAt: string;
  /** Action names the plugin declares, informative. */
  actions?: string[];
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
/** A bundle's action names, as its manifest lists them (the SDK has a handful; these only bound a hostile one). */
const MAX_ACTIONS = 1000;
const MAX_ACTION_CHARS = 256;
const FIELDS = new Set(["name", "version", "digest", "size", "sdkVersion", "builtAt", "actions"]);

export function isPluginName(value: unknown): value is string {
  return typeof value === "string" && NAME.test(value);
}

export function isPluginVersion(value: unknown): value is string {
  return typeof value === "string" && VERSION.test(value);
}

/** Throws a RangeError naming the bad value when a name or version cannot be used. */
export function assertPluginRef(name: string, version: string): void {
  if (!isPluginName(name)) {
    throw new RangeError(`Invalid plugin name "${name}": expected lower-case letters, digits, ".", "_" or "-" (at most 64)`);
  }
  if (!isPluginVersion(version)) {
    throw new RangeError(`Invalid plugin version "${version}": expected letters, digits, ".", "+" or "-" (at most 64)`);
  }
}

export function pluginRef(name: string, version: string): string {
  return `${name}@${version}`;
}

/** `hello-1.0.0`: the base of the bundle, manifest and signature file names. */
export function bundleFileBase(name: string, version: string): string {
  return `${name}-${version}`;
}

/**
 * Parses an untrusted manifest. Unknown fields are refused: a field this runner does not know
 * could carry a meaning it would ignore, so failing closed is the safe reading.
 */
export function parseManifest(value: unknown): BundleManifest {
  const fail = (reason: string): never => {
    throw new TypeError(`Invalid bundle manifest: ${reason}`);
  };
  if (value === null || typeof value !== "object" || Array.isArray(value)) return fail("expected a JSON object");
  const m = value as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!FIELDS.has(key)) fail(`unknown field ${jsonPreview(key, 64)}`);
  if (!isPluginName(m.name)) fail(`field "name" is ${jsonPreview(m.name)}, expected a plugin name`);
  if (!isPluginVersion(m.version)) fail(`field "version" is ${jsonPreview(m.version)}, expected a version`);
  if (!isDigest(m.digest)) fail(`field "digest" is ${jsonPreview(m.digest)}, expected "sha256-<base64url>"`);
  if (typeof m.size !== "number" || !Number.isSafeInteger(m.size) || m.size < 0) fail(`field "size" is ${jsonPreview(m.size)}, expected a byte count`);
  if (typeof m.sdkVersion !== "string" || m.sdkVersion === "") fail(`field "sdkVersion" is ${jsonPreview(m.sdkVersion)}, expected a string`);
  if (typeof m.builtAt !== "string" || Number.isNaN(Date.parse(m.builtAt))) fail(`field "builtAt" is ${jsonPreview(m.builtAt)}, expected an ISO date`);
  if (m.actions !== undefined && (!Array.isArray(m.actions) || m.actions.length > MAX_ACTIONS || !m.actions.every((a) => typeof a === "string" && a.length <= MAX_ACTION_CHARS))) {
    fail(`field "actions" is ${jsonPreview(m.actions)}, expected a list of at most ${MAX_ACTIONS} action names of at most ${MAX_ACTION_CHARS} characters`);
  }
  const manifest: BundleManifest = {
    name: m.name as string,
    version: m.version as string,
    digest: m.digest as string,
    size: m.size as number,
    sdkVersion: m.sdkVersion as string,
    builtAt: m.builtAt as string,
  };
  if (m.actions !== undefined) manifest.actions = [...(m.actions as string[])];
  return manifest;
}

/** The names of the fields on which two manifests differ (empty when they are the same). */
export function manifestDifferences(a: BundleManifest, b: BundleManifest): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof BundleManifest>;
  return [...keys].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key])).sort();
}
