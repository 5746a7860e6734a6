// Inside a plugin worker: every child a plugin starts through node:child_process (spawn, exec,
// execFile, fork; directly or through a library) becomes the leader of its own process group, and
// its id is reported, so the runner can stop the whole group, grandchildren included, when the
// job ends. Installed before any plugin code loads. The synchronous variants block until their
// child exits and are left alone. Bun fixes a built-in's ESM named exports at its first ESM
// import, so nothing in the worker's own module graph may import node:child_process statically:
// it asks childProcessModule() at run time instead.

import { createRequire } from "node:module";

type ChildProcessModule = typeof import("node:child_process");
type Starter = (...args: unknown[]) => { pid?: number | undefined };

const WRAPPED = ["spawn", "exec", "execFile", "fork"] as const;

/**
 * Wraps node:child_process so each child starts detached (a new session and process group) and
 * `onChild(pid)` hears of it. Returns false when the module could not be patched.
 */
export function trackChildProcesses(onChild: (pid: number) => void): boolean {
  if (process.platform === "win32") return false;
  let cp: ChildProcessModule;
  try {
    cp = childProcessModule();
  } catch {
    return false;
  }
  for (const name of WRAPPED) {
    const original = cp[name] as unknown as Starter;
    if (typeof original !== "function" || (original as { tracked?: true }).tracked === true) continue;
    const tracked = function tracked(this: unknown, ...args: unknown[]) {
      const child = original.apply(this, withDetached(name, args));
      if (typeof child?.pid === "number") onChild(child.pid);
      return child;
    };
    Object.defineProperty(tracked, "tracked", { value: true });
    try {
      (cp as unknown as Record<string, unknown>)[name] = tracked;
    } catch {
      return false;
    }
  }
  // Node keeps the ESM named exports of a built-in in step only when asked.
  try {
    const require = createRequire(import.meta.url);
    (require("node:module") as { syncBuiltinESMExports?: () => void }).syncBuiltinESMExports?.();
  } catch {
    // Bun and Deno: ESM imports made after this point see the patched functions anyway.
  }
  return true;
}

/** node:child_process as a module object (patched inside a plugin worker), without an ESM import. */
export function childProcessModule(): ChildProcessModule {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get === "function") return get.call(process, "node:child_process") as ChildProcessModule;
  return createRequire(import.meta.url)("node:child_process") as ChildProcessModule;
}

/** The same arguments with `detached: true` in the options object (added where the call has none). */
export function withDetached(name: (typeof WRAPPED)[number], args: unknown[]): unknown[] {
  const out = [...args];
  const isOptions = (v: unknown): boolean => v !== null && typeof v === "object" && !Array.isArray(v);
  // Options follow the command (and, for spawn/execFile/fork, an optional argument array).
  let at = 1;
  if (name !== "exec" && (Array.isArray(out[1]) || (out[1] == null && isOptions(out[2])))) at = 2;
  if (isOptions(out[at])) {
    out[at] = { ...(out[at] as object), detached: true };
  } else if (out[at] === undefined || out[at] === null) {
    out[at] = { detached: true };
  } else if (typeof out[at] === "function") {
    // exec(cmd, callback) / execFile(file, args, callback): options go before the callback.
    out.splice(at, 0, { detached: true });
  }
  return out;
}
