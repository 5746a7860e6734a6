// The built-in plugins, imported statically so they are part of the executable and the bundle.

import type { PluginDefinition } from "../sdk.ts";
import echo from "./echo.ts";
import http from "./http.ts";

export const BUILTIN_PLUGINS: ReadonlyMap<string, PluginDefinition> = new Map([
  [echo.name, echo],
  [http.name, http],
]);
