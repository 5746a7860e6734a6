// Reading a secret from a file: refuses files other users can read, so a key left world-readable
// by a careless copy fails loudly instead of working quietly.

import { statSync } from "node:fs";
import { ConfigError } from "./resolve.ts";
import { errorMessage } from "../errors.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readTextFileBoundedSync } from "../util/read-file-bounded.ts";
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
  let value: string;
  try {
    value = readTextFileBoundedSync(path, MAX_CREDENTIAL_FILE_BYTES).trim();
  } catch (error) {
    throw new ConfigError(field, `Cannot read "${field}" file "${path}": ${errorMessage(error)}`);
  }
  if (value === "") throw new ConfigError(field, `Refusing "${field}" file "${path}": it is empty`);
  return value;
}
