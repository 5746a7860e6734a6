// "echo" or "shell@1.2.0" as a job names its plugin, parsed once and checked, and the default
// resolver that knows only the built-ins (bundle download and verification plug in beside it).

import { pathToFileURL } from "node:url";
import { EdgeError } from "../errors.ts";
import { BUILTIN_PLUGINS } from "./builtin/names.ts";
import type { PluginSource } from "./worker-protocol.ts";

export interface PluginRef {
  name: string;
  /** Absent when the job names no version; built-ins ignore it. */
  version?: string;
}

const REF = /^([a-z0-9][a-z0-9._-]{0,63})(?:@([0-9A-Za-z][0-9A-Za-z.+-]{0,63}))?$/;

/** Parses a plugin reference; throws EdgeError `input_invalid` quoting the value. */
export function parsePluginRef(text: string): PluginRef {
  const match = typeof text === "string" ? REF.exec(text) : null;
  if (match === null || match[1] === undefined) {
    throw new EdgeError("input_invalid", `Cannot use plugin "${String(text).slice(0, 100)}": expected "name" or "name@version"`);
  }
  return match[2] === undefined ? { name: match[1] } : { name: match[1], version: match[2] };
}

/** Finds a plugin's code: a bundle on disk that was already verified, or a built-in. */
export type PluginResolver = (ref: PluginRef, signal: AbortSignal) => PluginSource | Promise<PluginSource>;

/** Built-ins win over bundles of the same name, so a bundle cannot shadow `http`. */
export function builtinSource(ref: PluginRef): PluginSource | undefined {
  return BUILTIN_PLUGINS.has(ref.name) ? { kind: "builtin", name: ref.name } : undefined;
}

/** A local, unverified bundle file (`plugin run`, tests): imported from its path. */
export function fileBundleSource(path: string, name: string, version: string): PluginSource {
  return { kind: "bundle", url: pathToFileURL(path).href, id: path, name, version };
}

export const builtinOnlyResolver: PluginResolver = (ref) => {
  throw new EdgeError("plugin_not_found", `Cannot find plugin "${ref.version === undefined ? ref.name : `${ref.name}@${ref.version}`}": not a built-in and no bundle resolver is configured`);
};

/** Workers are shared by source: every job naming the same bundle file uses the same workers. */
export function sourceKey(source: PluginSource): string {
  return source.kind === "builtin" ? `builtin:${source.name}` : `bundle:${source.id}`;
}

export function sourceLabel(source: PluginSource): string {
  return source.kind === "builtin" ? source.name : `${source.name}@${source.version}`;
}
