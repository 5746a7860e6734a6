// `edge-runner plugin build|sign|verify|publish|run`: the plugin author's tools. Each
// sub-command is a thin layer over src/plugin-bundles/; this file parses flags and prints.

import { writeFile } from "node:fs/promises";
import { primaryControllerUrl, resolveConfig } from "../config/resolve.ts";
import { resolveAdminToken } from "./admin-support.ts";
import { EdgeError, errorMessage } from "../errors.ts";
import { buildPlugin } from "./plugin-tools/build-plugin.ts";
import type { BundlerChoice } from "../plugin-bundles/bundler.ts";
import { parseCommandArgs, requireFlag, stringFlag, UsageError, type ParsedArgs } from "./cli-args.ts";
import { DEFAULT_MAX_BUNDLE_BYTES } from "../plugin-bundles/bundle-fetcher.ts";
import { TrustedKeyRing } from "../plugin-bundles/key-ring.ts";
import { parseManifest, pluginRef } from "../plugin-bundles/manifest.ts";
import { publishBundle } from "./plugin-tools/publish-bundle.ts";
import { signManifest } from "../plugin-bundles/sign-manifest.ts";
import { loadSigningKey } from "../plugin-bundles/signing-keys.ts";
import { verifyBundle } from "../plugin-bundles/verify-bundle.ts";
import { runPluginLocally, RUN_USAGE } from "./plugin-tools/run-plugin.ts";
import { EXIT, type Command } from "./command.ts";
import { commandErrorExit } from "./command-error.ts";
import { INIT_USAGE, initPlugin } from "./plugin-init.ts";
import { testPlugin } from "./plugin-test.ts";
import { publicUrl } from "../config/url.ts";
import { readConfigText } from "../config/read-config-text.ts";
import { FileTooLargeError, readFileBounded, readTextFileBounded } from "../util/read-file-bounded.ts";

/** A manifest or a signature (JWS) is a few KiB; 1 MiB leaves room, a bigger file is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;

const USAGE = `Usage: edge-runner plugin <init|test|build|sign|verify|publish|run> …
${INIT_USAGE}  build <entry.ts> [--out DIR] [--name N] [--version V] [--bundler auto|esbuild|bun]
      Bundle to DIR/<name>-<version>.mjs (default DIR ./dist) and write <name>-<version>.manifest.json.
  sign <manifest.json> --key <signing.key.jwk> [--out FILE]
      Write a JWS over the manifest to <name>-<version>.jws (next to the manifest).
  verify <bundle.mjs> --trusted-keys <dir|jwks> [--manifest M] [--signature S] [--name N] [--version V] [--max-bytes B]
      Check a bundle as a runner would and say exactly why it fails. M and S default to the files next to it.
  publish <bundle.mjs> [--controller-url URL] [--data-dir D | --admin-token-file F] [--manifest M] [--signature S] [--progress] [--insecure]
      Upload to the controller (default http://127.0.0.1:8780). The admin token comes from --admin-token-file,
      --admin-token, EDGE_RUNNER_ADMIN_TOKEN(_FILE), or the controller's <dataDir>/controller/admin-token, as for "job".
${RUN_USAGE}`;

type Sub = (args: string[]) => Promise<number>;
const SUBCOMMANDS: Record<string, Sub> = { init: initPlugin, test: testPlugin, build, sign, verify, publish, run: runPluginLocally };

export const pluginCommand: Command = {
  name: "plugin",
  summary: "Plugin author tools: plugin init|test|build|sign|verify|publish|run.",
  async run(args) {
    const [name, ...rest] = args;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      process.stdout.write(USAGE);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const sub = SUBCOMMANDS[name];
    if (sub === undefined) {
      process.stderr.write(`edge-runner plugin: unknown sub-command "${name}"\n\n${USAGE}`);
      return EXIT.usage;
    }
    try {
      return await sub(rest);
    } catch (error) {
      return commandErrorExit(error, { label: `edge-runner plugin ${name}`, usage: USAGE, showCode: true });
    }
  },
};

function onePositional(parsed: ParsedArgs, what: string, action: string): string {
  const [value, extra] = parsed.positionals;
  if (value === undefined) throw new UsageError(`Cannot ${action}: ${what} missing`);
  if (extra !== undefined) throw new UsageError(`Cannot ${action}: unexpected argument "${extra}"`);
  return value;
}

/** `dist/hello-1.0.0.mjs` or `dist/hello-1.0.0.manifest.json` → `dist/hello-1.0.0`. */
function fileBase(path: string): string {
  return path.replace(/(\.manifest\.json|\.json|\.mjs|\.js)$/, "");
}

async function readText(path: string, what: string, action: string): Promise<string> {
  try {
    // A manifest is a few KiB; a bigger file is not one.
    return await readTextFileBounded(path, MAX_MANIFEST_BYTES);
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot ${action}: cannot read ${what} "${path}" (${errorMessage(error)})`);
  }
}

async function build(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, { out: { type: "string" }, name: { type: "string" }, version: { type: "string" }, bundler: { type: "string" } });
  const entry = onePositional(parsed, "entry file", "build plugin");
  const bundler = stringFlag(parsed.values, "bundler") ?? "auto";
  if (!["auto", "esbuild", "bun"].includes(bundler)) throw new UsageError(`Cannot build plugin: --bundler "${bundler}" is not one of auto, esbuild, bun`);
  const name = stringFlag(parsed.values, "name"), version = stringFlag(parsed.values, "version");
  const built = await buildPlugin({
    entry,
    outDir: stringFlag(parsed.values, "out") ?? "dist",
    bundler: bundler as BundlerChoice,
    ...(name === undefined ? {} : { name }),
    ...(version === undefined ? {} : { version }),
  });
  const m = built.manifest;
  process.stderr.write(`Built "${pluginRef(m.name, m.version)}" with ${built.bundler}: ${m.size} bytes, ${m.digest}\n`);
  process.stdout.write(`${built.bundlePath}\n${built.manifestPath}\n`);
  return EXIT.ok;
}

async function sign(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, { key: { type: "string" }, out: { type: "string" } });
  const manifestPath = onePositional(parsed, "manifest file", "sign");
  const key = await loadSigningKey(requireFlag(parsed.values, "key", "sign"));
  let manifest;
  try {
    manifest = parseManifest(JSON.parse(await readText(manifestPath, "manifest", "sign")));
  } catch (error) {
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("input_invalid", `Cannot sign "${manifestPath}": ${errorMessage(error)}`);
  }
  const out = stringFlag(parsed.values, "out") ?? `${fileBase(manifestPath)}.jws`;
  await writeFile(out, (await signManifest(manifest, key)) + "\n");
  process.stderr.write(`Signed "${pluginRef(manifest.name, manifest.version)}" with key "${key.kid}"\n`);
  process.stdout.write(`${out}\n`);
  return EXIT.ok;
}

async function verify(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    manifest: { type: "string" }, signature: { type: "string" }, "trusted-keys": { type: "string" },
    name: { type: "string" }, version: { type: "string" }, "max-bytes": { type: "string" },
  });
  const bundlePath = onePositional(parsed, "bundle file", "verify");
  const base = fileBase(bundlePath);
  const manifestPath = stringFlag(parsed.values, "manifest") ?? `${base}.manifest.json`;
  const signaturePath = stringFlag(parsed.values, "signature") ?? `${base}.jws`;
  const keyRing = await TrustedKeyRing.load(requireFlag(parsed.values, "trusted-keys", "verify"));
  const maxBytes = Number(stringFlag(parsed.values, "max-bytes") ?? DEFAULT_MAX_BUNDLE_BYTES);
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new UsageError(`Cannot verify: --max-bytes must be a positive integer`);

  let manifest: unknown;
  try {
    manifest = JSON.parse(await readText(manifestPath, "manifest", "verify"));
  } catch (error) {
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("input_invalid", `Cannot verify: manifest "${manifestPath}" is not JSON`);
  }
  const signature = (await readTextFileBounded(signaturePath, MAX_MANIFEST_BYTES).catch(() => "")).trim();
  const declared = manifest as { name?: unknown; version?: unknown };
  // Without --name/--version the manifest file says what is expected; a runner uses the job's values.
  const expected = {
    name: stringFlag(parsed.values, "name") ?? String(declared.name),
    version: stringFlag(parsed.values, "version") ?? String(declared.version),
  };
  let bundle: Uint8Array;
  try {
    // --max-bytes bounds the read itself: a bigger bundle is refused by its size, never loaded.
    bundle = await readFileBounded(bundlePath, maxBytes);
  } catch (error) {
    if (!(error instanceof FileTooLargeError)) throw new EdgeError("bundle_not_found", `Cannot verify bundle "${bundlePath}": ${errorMessage(error)}`);
    process.stdout.write(`REFUSED: bundle_too_large: Cannot verify bundle "${bundlePath}": ${error.message}\n`);
    return EXIT.failure;
  }
  try {
    const result = await verifyBundle({ bundle, signature, manifest, keyRing, expected, maxBytes });
    const m = result.manifest;
    process.stdout.write(`OK: bundle "${pluginRef(m.name, m.version)}" (${m.size} bytes, ${m.digest}) is signed by trusted key "${result.kid}"\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof EdgeError)) throw error;
    process.stdout.write(`REFUSED: ${error.code}: ${error.message}\n`);
    return EXIT.failure;
  }
}

async function publish(args: string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    manifest: { type: "string" }, signature: { type: "string" }, "controller-url": { type: "string" },
    "admin-token": { type: "string" }, "admin-token-file": { type: "string" }, progress: { type: "boolean" }, insecure: { type: "boolean" },
  });
  const bundlePath = onePositional(parsed, "bundle file", "publish");
  const base = fileBase(bundlePath);
  // The controller URL and admin token resolve as for `edge-runner job`: flags, env, config file
  // (the plain-http rule included), and the controller's own token file under --data-dir.
  const argv: string[] = parsed.values.insecure === true ? ["--insecure"] : [];
  for (const flag of ["controller-url", "admin-token", "admin-token-file", "data-dir", "config-file"]) {
    const value = stringFlag(parsed.values, flag);
    if (value !== undefined) argv.push(`--${flag}`, value);
  }
  const { config } = resolveConfig({ scopes: ["runner", "controller"], argv, env: process.env, readFile: readConfigText });
  const controllerUrl = primaryControllerUrl(config);
  const adminToken = resolveAdminToken(config);

  const showProgress = parsed.values.progress === true || process.stderr.isTTY === true;
  let shown = -1;
  const result = await publishBundle({
    bundlePath,
    manifestPath: stringFlag(parsed.values, "manifest") ?? `${base}.manifest.json`,
    signaturePath: stringFlag(parsed.values, "signature") ?? `${base}.jws`,
    controllerUrl,
    adminToken,
    onProgress(sent, total) {
      // Only worth showing for bundles past 256 KiB, unless asked for.
      if (!showProgress || (total < 256 * 1024 && parsed.values.progress !== true)) return;
      const percent = Math.floor((sent / total) * 100);
      if (percent === shown) return;
      shown = percent;
      process.stderr.write(`\rUploading: ${percent}% (${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB)${sent === total ? "\n" : ""}`);
    },
  });
  const m = result.manifest;
  process.stdout.write(`${result.created ? "Published" : "Re-signed"} "${pluginRef(m.name, m.version)}" (${m.digest}) on ${publicUrl(controllerUrl)}\n`);
  return EXIT.ok;
}

/** The admin token goes in a header: the same plain-http rule as the runner's controller URL. */
