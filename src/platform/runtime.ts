// Which runtime we are on. Only src/platform/ may ask; the rest of the code uses its helpers.

export type RuntimeName = "bun" | "deno" | "node";

export const runtime: RuntimeName =
  typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
    ? "bun"
    : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
      ? "deno"
      : "node";

/** Bun's own API (its bundler, its gc) when running on Bun, else undefined. */
export function bunApi(): typeof Bun | undefined {
  return (globalThis as { Bun?: typeof Bun }).Bun;
}

/** Deno's own namespace when running on Deno (its exit, which a plugin guard replaces), else undefined. */
export function denoApi(): { exit?: unknown } | undefined {
  return (globalThis as { Deno?: { exit?: unknown } }).Deno;
}

/** True inside an executable made by `bun build --compile` (its modules live on a virtual $bunfs). */
export const isCompiled: boolean = runtime === "bun" && import.meta.url.includes("$bunfs");

/**
 * The executable starts with JavaScriptCore's tier-up thresholds raised (scripts/build.ts,
 * `jitPolicy`): code that runs once at start (config, keys, the first session) stays in the
 * interpreter instead of waking the JIT's compiler threads and paging in its code, which cost an
 * idle runner ~3 MiB and its start ~5 ms of CPU (docs/performance.md, start-up, sixth pass). A
 * long-running command calls this once it is ready, before its first job or request under load,
 * so the hot path compiles as usual. Only the main thread starts that way (a Worker's VM starts
 * with the normal policy); elsewhere (Node, Deno, `bun src/main.ts`) it does nothing.
 */
export function endStartupJitPolicy(): void {
  (globalThis as { Bun?: { unsafe?: { setJITPolicy?: (scale: number) => void } } }).Bun?.unsafe?.setJITPolicy?.(1);
}
