// Which runtime we are on. Only src/platform/ may ask; the rest of the code uses its helpers.

export type RuntimeName = "bun" | "deno" | "node";

export const runtime: RuntimeName =
  typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
    ? "bun"
    : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
      ? "deno"
      : "node";

/** True inside an executable made by `bun build --compile` (its modules live on a virtual $bunfs). */
export const isCompiled: boolean = runtime === "bun" && import.meta.url.includes("$bunfs");
