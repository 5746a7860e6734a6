// Reading a secret from a file: refuses files other users can read, so a key left world-readable
// by a careless copy fails loudly instead of working quietly.

import { statSync } from "node:fs";
import { ConfigError } from "./resolve.ts";
import { errorMessage } from "../errors.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";
import { secretFileRefusal } from "../util/secret-file-rule.ts";

/** A token, password or key (a PEM, a service account's JSON) is a few KiB; a bigger file is not one. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export function readSecretFile(path: string, field: string): string {
  let info;
  try {
    info = statSync(path);
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" file "${path}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  const refusal = secretFileRefusal(path, info);
  if (refusal !== undefined) throw new ConfigError(field, `Refusing "${field}" file "${path}": ${refusal.reason}${refusal.fix === undefined ? "" : `; run: ${refusal.fix}`}`);
  let value: string;
  try {
    value = readTextFileBoundedSync(path, MAX_SECRET_FILE_BYTES).trim();
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" file "${path}": ${errorMessage(error)}`);
  }
  if (value === "") throw new ConfigError(field, `Refusing "${field}" file "${path}": it is empty`);
  return value;
}
