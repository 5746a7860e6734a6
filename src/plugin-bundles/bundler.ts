// Bundling a plugin entry into one ESM file. esbuild is a native binary the compiled executable
// cannot embed, so: the esbuild installed in the plugin's project (found like a module, walking up
// node_modules from the entry, then the working directory), else Bun's built-in bundler when running
// on Bun (which includes the compiled executable), else a clear error telling how to get esbuild.

import { bunApi } from "../platform/runtime.ts";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Esbuild from "esbuild";
import { EdgeError, errorMessage } from "../errors.ts";
import { REQUIRE_SHIM } from "./require-shim.ts";

export type BundlerChoice = "auto" | "esbuild" | "bun";

export interface BundleOutput {
  code: Uint8Array;
  /** e.g. "esbuild 0.28.2" or "bun 1.4.5". */
  bundler: string;
}

// Bundles open with a require() for built-in modules only: see require-shim.ts.
export { LEGACY_REQUIRE_SHIM, REQUIRE_SHIM } from "./require-shim.ts";

export async function bundleEntry(entry: string, choice: BundlerChoice = "auto"): Promise<BundleOutput> {
  const esbuildPath = choice === "bun" ? undefined : findEsbuild([dirname(resolve(entry)), process.cwd()]);
  if (esbuildPath !== undefined) return bundleWithEsbuild(entry, esbuildPath);
  const bun = bunApi();
  if (choice !== "esbuild" && bun !== undefined) return bundleWithBun(entry, bun);
  throw new EdgeError(
    "config_invalid",
    choice === "bun"
      ? `Cannot build plugin "${entry}": --bundler bun needs the Bun runtime (the compiled executable or "bun")`
      : `Cannot build plugin "${entry}": esbuild not found in a node_modules folder above "${dirname(resolve(entry))}" or "${process.cwd()}"; run "npm install --save-dev esbuild" in the plugin project, or use the compiled edge-runner (it bundles with Bun)`,
  );
}

/** The path of esbuild's JS API in the first node_modules above each start directory. */
export function findEsbuild(starts: readonly string[]): string | undefined {
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const candidate = join(dir, "node_modules", "esbuild", "lib", "main.js");
      if (existsSync(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  return undefined;
}

async function bundleWithEsbuild(entry: string, path: string): Promise<BundleOutput> {
  const imported = (await import(pathToFileURL(path).href)) as typeof Esbuild & { default?: typeof Esbuild };
  const esbuild = typeof imported.build === "function" ? imported : (imported.default as typeof Esbuild);
  let result: Esbuild.BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "es2022",
      banner: { js: REQUIRE_SHIM },
      logLevel: "silent",
    });
  } catch (error) {
    const errors = (error as { errors?: Esbuild.Message[] }).errors;
    const detail = errors?.map((m) => `${m.location?.file ?? ""}:${m.location?.line ?? ""} ${m.text}`).join("; ") ?? errorMessage(error);
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": ${detail}`);
  }
  const file = result.outputFiles[0];
  if (file === undefined) throw new EdgeError("internal", `Cannot build plugin "${entry}": esbuild wrote no output`);
  return { code: file.contents, bundler: `esbuild ${esbuild.version}` };
}

async function bundleWithBun(entry: string, bun: typeof Bun): Promise<BundleOutput> {
  let result: Awaited<ReturnType<typeof Bun.build>>;
  try {
    result = await bun.build({ entrypoints: [entry], target: "node", format: "esm", throw: false });
  } catch (error) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": ${errorMessage(error)}`);
  }
  if (!result.success) {
    throw new EdgeError("input_invalid", `Cannot build plugin "${entry}": ${result.logs.map((l) => String(l.message ?? l)).join("; ")}`);
  }
  const output = result.outputs[0];
  if (output === undefined) throw new EdgeError("internal", `Cannot build plugin "${entry}": Bun wrote no output`);
  return { code: new Uint8Array(await output.arrayBuffer()), bundler: `bun ${bun.version}` };
}
