// A Node built-in as its module object, taken without an ESM import, and the named imports of
// built-ins brought in step after a patch: what stray-writes.ts (node:fs) and stray-children.ts
// (node:child_process) need to replace functions before any plugin code binds them. Named ESM
// imports (`import { writeSync } from "node:fs"`) are bindings fixed by the runtime: Node updates
// them on syncBuiltinESMExports(); Bun and Deno fix them when the first module that imports the
// built-in is evaluated, so the patching modules must not import it themselves.

import { createRequire } from "node:module";

export function builtinModule<T>(id: "node:fs" | "node:child_process"): T {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === "function") return get.call(process, id) as T;
  return createRequire(import.meta.url)(id) as T;
}

/** After a patch: Node's named ESM exports of built-ins follow it only when asked. */
export function syncBuiltinNamedExports(): void {
  try {
    (createRequire(import.meta.url)("node:module") as { syncBuiltinESMExports?: () => void }).syncBuiltinESMExports?.();
  } catch {
    // Bun and Deno: their named exports are fixed when first imported (see the header).
  }
}
