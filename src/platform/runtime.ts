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
