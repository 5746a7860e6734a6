// Reading a secret from a file: refuses files other users can read, so a key left world-readable
// by a careless copy fails loudly instead of working quietly.

import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "./resolve.ts";
import { errorMessage } from "../errors.ts";

export function readSecretFile(path: string, field: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" file "${path}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new ConfigError(field, `Refusing "${field}" file "${path}": mode ${octal} lets other users read it; run: chmod 600 "${path}"`);
  }
  const value = readFileSync(path, "utf8").trim();
  if (value === "") throw new ConfigError(field, `Refusing "${field}" file "${path}": it is empty`);
  return value;
}
