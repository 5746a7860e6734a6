// Closing the module search paths outside node_modules for plugin code. Node (and Deno's Node
// layer) compute "global folders" once per thread or process from HOME ($HOME/.node_modules,
// $HOME/.node_libraries) and NODE_PATH; any require() the plugin reaches searches them. The shipped
// systemd unit and Kubernetes manifest set HOME to the data dir, so a file there would be code a
// verified bundle runs unsigned. A bundle's own require() is limited to built-ins (require-shim.ts);
// this is the second wall, for a createRequire() a bundled library makes itself.

import * as nodeModule from "node:module";
import { runtime } from "./runtime.ts";

/** The variables Node derives global module folders from. */
const SEARCH_PATH_ENV = ["HOME", "USERPROFILE", "NODE_PATH"] as const;

/**
 * Recomputes this thread's global module folders without HOME and NODE_PATH (only built-ins and
 * node_modules then), leaving process.env itself as it was: plugins and the commands they start
 * still see HOME. Returns the global folders left (Node keeps <prefix>/lib/node, root's own).
 * Bun reads NODE_PATH once per process and offers no per-thread switch: nothing to do here (see
 * docs/security.md).
 */
export function closeGlobalModuleSearchPaths(): readonly string[] {
  const mod = nodeModule.Module as unknown as { _initPaths?: () => void; globalPaths?: string[] };
  if (runtime === "bun" || typeof mod._initPaths !== "function") return mod.globalPaths ?? [];
  const saved = SEARCH_PATH_ENV.map((name) => [name, process.env[name]] as const);
  try {
    for (const [name] of saved) delete process.env[name];
    mod._initPaths();
  } catch {
    // A runtime whose Node layer computes the folders differently: the require() shim still holds.
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
  return mod.globalPaths ?? [];
}
