// Reading a secret from a file: refuses files other users can read, so a key left world-readable
// by a careless copy fails loudly instead of working quietly.

import { readFileSync, statSync } from "node:fs";
import { ConfigError } from "./resolve.ts";
import { errorMessage } from "../errors.ts";
import { secretFileRefusal } from "../util/secret-file-rule.ts";

export function readSecretFile(path: string, field: string): string {
  let info;
  try {
    info = statSync(path);
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" file "${path}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  const refusal = secretFileRefusal(path, info);
  if (refusal !== undefined) throw new ConfigError(field, `Refusing "${field}" file "${path}": ${refusal.reason}${refusal.fix === undefined ? "" : `; run: ${refusal.fix}`}`);
  const value = readFileSync(path, "utf8").trim();
  if (value === "") throw new ConfigError(field, `Refusing "${field}" file "${path}": it is empty`);
  return value;
}
