// The require() a plugin bundle gets, and the one rewrite a runner makes to verified bytes.
// Some npm packages still call require() for Node built-ins; the ESM bundle gets a require() for
// them as the first line (an esbuild banner). It loads built-in modules only: esbuild leaves an
// unresolvable require() inside try/catch (optional dependencies: ws -> bufferutil) as a runtime
// call, and a full createRequire() would then search $HOME/.node_modules, $HOME/.node_libraries,
// NODE_PATH and node_modules above its base: unsigned code from the data dir (HOME there under the
// shipped systemd unit and Kubernetes manifest) running inside a verified bundle. Anything else
// throws MODULE_NOT_FOUND, which is what the optional-dependency fallbacks catch. The runner's own
// Node bundle (scripts/build.ts) opens with the same line: ws's require("bufferutil") is one.

/** The first line of a bundle built by `edge-runner plugin build` with esbuild, and of dist/node. */
export const REQUIRE_SHIM =
  'import { createRequire as __edgeCreateRequire, isBuiltin as __edgeIsBuiltin } from "node:module"; const require = ((builtin) => Object.assign(function require(id) { if (typeof id === "string" && __edgeIsBuiltin(id)) return builtin(id); throw Object.assign(new Error(`Cannot find module "${String(id)}": require() in this bundle loads built-in modules only`), { code: "MODULE_NOT_FOUND" }); }, { resolve(id) { if (typeof id === "string" && __edgeIsBuiltin(id)) return id; throw Object.assign(new Error(`Cannot find module "${String(id)}": require() in this bundle loads built-in modules only`), { code: "MODULE_NOT_FOUND" }); } }))(__edgeCreateRequire("file:///edge-runner-plugin.mjs"));';

/** The shim of bundles built before runners imported from data: URLs (createRequire(import.meta.url)). */
export const LEGACY_REQUIRE_SHIM = 'import { createRequire as __edgeCreateRequire } from "node:module"; const require = __edgeCreateRequire(import.meta.url);';

/** The shim of bundles built before require() was limited to built-ins: a full require(). */
export const DATA_URL_REQUIRE_SHIM =
  'import { createRequire as __edgeCreateRequire } from "node:module"; const require = __edgeCreateRequire(import.meta.url.startsWith("file:") ? import.meta.url : "file:///edge-runner-plugin.mjs");';

const SUPERSEDED = [LEGACY_REQUIRE_SHIM, DATA_URL_REQUIRE_SHIM].map((text) => Buffer.from(text));
const CURRENT = Buffer.from(REQUIRE_SHIM);

/**
 * Verified bundle bytes as they are imported: a bundle that opens with exactly the text of an
 * older shim gets the current one in its place; any other byte is left as signed. This is sound
 * because it replaces only a whole statement the runner's own bundler wrote at the start (each
 * shim ends with ";", so what follows starts a statement in both), and the replacement can do
 * less than the original (built-ins only), never more; a bundle that itself declares a name the
 * new shim adds (`__edgeIsBuiltin`) fails to load rather than run differently. The start is
 * offset 0, or just after a hashbang line: esbuild writes an entry file's `#!` line before the
 * banner, and such a bundle kept its full require() (a review proved it).
 */
export function withCurrentRequireShim(verified: Uint8Array): Buffer {
  const bytes = Buffer.from(verified.buffer, verified.byteOffset, verified.byteLength);
  const start = hashbangEnd(bytes);
  for (const old of SUPERSEDED) {
    const end = start + old.byteLength;
    if (bytes.byteLength >= end && bytes.subarray(start, end).equals(old)) return Buffer.concat([bytes.subarray(0, start), CURRENT, bytes.subarray(end)]);
  }
  return bytes;
}

/** Where the text after a leading `#!` line begins (0 without one; the line's own bytes are kept). */
function hashbangEnd(bytes: Buffer): number {
  if (bytes.byteLength < 2 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return 0;
  const newline = bytes.indexOf(0x0a);
  return newline < 0 ? 0 : newline + 1;
}
