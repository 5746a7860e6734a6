// The built-in plugins by name. Their code is loaded on first use (dynamic import), so a runner
// that never runs terraform never evaluates the terraform plugin; the names and input schemas are
// known without loading anything (`job submit` checks input against them).

import type { PluginDefinition } from "../sdk.ts";
import { BUILTIN_PLUGINS, type BuiltinName } from "./names.ts";
import { INPUT_SCHEMAS } from "./schemas.ts";

type Loader = () => Promise<{ default: PluginDefinition }>;

const LOADERS: Readonly<Record<BuiltinName, Loader>> = {
  echo: () => import("./echo/plugin.ts"),
  http: () => import("./http/plugin.ts"),
  shell: () => import("./shell/plugin.ts"),
  manual: () => import("./manual/plugin.ts"),
  terraform: () => import("./terraform/plugin.ts"),
  "github-workflow": () => import("./github-workflow/plugin.ts"),
  "gitlab-pipeline": () => import("./gitlab-pipeline/plugin.ts"),
  "azure-devops-pipeline": () => import("./azure-devops-pipeline/plugin.ts"),
};


/** Loads a built-in's code; undefined for a name that is not built in. */
export async function loadBuiltin(name: string): Promise<PluginDefinition | undefined> {
  const load = Object.hasOwn(LOADERS, name) ? LOADERS[name as BuiltinName] : undefined;
  return load === undefined ? undefined : (await load()).default;
}

export { BUILTIN_PLUGINS, INPUT_SCHEMAS };
