// Starting a plugin Worker thread on Bun, Deno and Node. node:worker_threads works on all three;
// only where the entry module lives differs (source tree, compiled binary, esbuild bundle).

import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { PLUGIN_HOST_COMMAND } from "./plugin-host-command.ts";
import { isCompiled, runtime } from "./runtime.ts";

export interface StartWorkerOptions {
  /** V8 old-space cap per worker. Enforced by Node and Deno (the worker dies with ERR_WORKER_OUT_OF_MEMORY); Bun ignores it. */
  maxOldGenerationSizeMb?: number;
  /** Overrides the entry module (tests); default: the plugin worker entry for this build. */
  entry?: string | URL;
}

export const DEFAULT_WORKER_HEAP_MB = 256;

/** Environment variables a plugin never sees: the runner's own configuration and secrets. */
const HIDDEN_ENV = /^EDGE_RUNNER_/;

export function startWorker(options: StartWorkerOptions = {}): Worker {
  return new Worker(options.entry ?? workerEntry(), {
    env: pluginEnv(),
    resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb ?? DEFAULT_WORKER_HEAP_MB },
  });
}

/**
 * Where the plugin worker entry is for this build:
 * - compiled binary: Bun embeds each entrypoint of `bun build --compile` (scripts/build.ts,
 *   WORKER_ENTRIES) at its path relative to the entrypoints' common folder (src/), as .js,
 *   beside the main module: /$bunfs/root/plugins/worker-entry.js. The path is made absolute on
 *   purpose: a relative one that misses the embedded file falls back to the working directory
 *   and would run whatever file sits there (that is also why "./src/plugins/worker-entry.ts"
 *   seems to work when started from a checkout, and fails anywhere else);
 * - source (`bun test`, `bun src/main.ts`, `deno run src/main.ts`): the .ts file beside us;
 * - esbuild bundle (dist/node/edge-runner.mjs): this code is inlined there and the entry is
 *   emitted beside it as worker-entry.mjs.
 */
export function workerEntry(): string | URL {
  if (isCompiled) return fileURLToPath(new URL("./plugins/worker-entry.js", import.meta.url));
  if (import.meta.url.endsWith(".ts")) return new URL("../plugins/worker-entry.ts", import.meta.url);
  return new URL("./worker-entry.mjs", import.meta.url);
}

export { PLUGIN_HOST_COMMAND };

/** How to start the plugin host child for this build: compiled binary, source under Bun, or the bundle under Node/Deno. */
export function pluginHostCommand(heapMb?: number): { execPath: string; args: string[] } {
  if (isCompiled) return { execPath: process.execPath, args: [PLUGIN_HOST_COMMAND] };
  if (import.meta.url.endsWith(".ts")) return { execPath: process.execPath, args: [fileURLToPath(new URL("../plugins/process-entry.ts", import.meta.url))] };
  // The esbuild bundle: this code is inlined in edge-runner.mjs, the main module.
  const heap = heapMb === undefined || runtime === "bun" ? [] : [`--max-old-space-size=${heapMb}`];
  return { execPath: process.execPath, args: [...heap, fileURLToPath(import.meta.url), PLUGIN_HOST_COMMAND] };
}

/** The environment a plugin sees: the runner's, minus its own EDGE_RUNNER_* configuration. */
export function pluginEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !HIDDEN_ENV.test(key)) env[key] = value;
  }
  return env;
}
