// Paths the integrations' inputs name are resolved inside the job's working directory, never
// outside it (the schemas already refuse ".." segments; this is the check that holds regardless).

import { isAbsolute, relative, resolve } from "node:path";
import { EdgeError } from "../../errors.ts";
import { quotedValue } from "./quoted-value.ts";

/** `path` resolved under `dir`; throws `input_invalid` naming `field` when it would leave it. */
export function insideDir(dir: string, path: string, field: string): string {
  const full = resolve(dir, path);
  const rel = relative(dir, full);
  if (isAbsolute(path) || rel === "" && path !== "." || rel.startsWith("..") || isAbsolute(rel)) {
    throw new EdgeError("input_invalid", `Cannot use ${field} path ${quotedValue(path, 200)}: it must stay inside the job's working directory`);
  }
  return full;
}
