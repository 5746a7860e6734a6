// Secret job inputs given at submit (`job submit --secret NAME=VALUE`, admin API `secretInputs`):
// encrypted here, before anything is stored, to the current key of every runner of the job's
// group, and put in the input as {"$secret": JWE} (or a list of JWEs, one per key). The
// controller keeps only the ciphertext; the runner decrypts just before the run.

import { EdgeError } from "../errors.ts";
import { encryptToRunner } from "../secrets/jwe.ts";
import type { RunnerPublicJwk } from "../secrets/key-ring.ts";
import { hasLoneSurrogate } from "../util/well-formed.ts";
import { MAX_STORED_INPUT_BYTES, STORED_INPUT_BOUNDS } from "./store-file-bounds.ts";
import { checkJsonBounds } from "../util/json-bounds.ts";

const MAX_SECRET_INPUTS = 50;
const MAX_VALUE_BYTES = 64 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** Checks the admin API's `secretInputs` field: an object of at most 50 name → non-empty string. */
export function parseSecretInputs(value: unknown, action: string): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new EdgeError("input_invalid", `Cannot ${action}: "secretInputs" must be an object of input names to string values`);
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_SECRET_INPUTS) throw new EdgeError("input_invalid", `Cannot ${action}: "secretInputs" has ${entries.length} entries, over ${MAX_SECRET_INPUTS}`);
  for (const [name, item] of entries) {
    if (!NAME.test(name)) throw new EdgeError("input_invalid", `Cannot ${action}: secret input name "${name.slice(0, 130)}" must be 1 to 128 letters, digits and "_.-", starting with a letter or "_"`);
    if (typeof item !== "string" || item === "" || Buffer.byteLength(item) > MAX_VALUE_BYTES) {
      throw new EdgeError("input_invalid", `Cannot ${action}: secret input "${name}" must be a string of 1 byte to 64 KiB`);
    }
    // Encrypted as UTF-8, a lone surrogate would become U+FFFD: the runner would get another value.
    if (hasLoneSurrogate(item)) throw new EdgeError("input_invalid", `Cannot ${action}: secret input "${name}" must be well-formed Unicode (it holds a lone UTF-16 surrogate)`);
  }
  return value as Record<string, string>;
}

/**
 * The job input with each secret input encrypted in; fails when no runner of the group told a key
 * (`conflict`) or when the result is over MAX_STORED_INPUT_BYTES (`too_large`, 413).
 */
export async function encryptSecretInputs(input: unknown, secrets: Record<string, string>, keys: RunnerPublicJwk[], group: string): Promise<Record<string, unknown>> {
  if (input !== undefined && (input === null || typeof input !== "object" || Array.isArray(input))) {
    throw new EdgeError("input_invalid", `Cannot submit a job with secret inputs: "input" must be an object to hold them`);
  }
  if (keys.length === 0) {
    throw new EdgeError("conflict", `Cannot submit a job with secret inputs to group "${group}": no runner of the group has told the controller an encryption key yet (start one first)`);
  }
  const out: Record<string, unknown> = { ...(input as Record<string, unknown> | undefined) };
  for (const [name, value] of Object.entries(secrets)) {
    if (name in out) throw new EdgeError("input_invalid", `Cannot submit a job: "${name}" is both an input and a secret input`);
    const jwes = await Promise.all(keys.map((key) => encryptToRunner(value, key)));
    out[name] = { $secret: jwes.length === 1 ? jwes[0] : jwes };
  }
  // One JWE per runner key: the input grows with the group, and the journal line that stores it has a cap.
  if (checkJsonBounds(out, STORED_INPUT_BOUNDS) !== undefined) {
    const bytes = Buffer.byteLength(JSON.stringify(out));
    throw new EdgeError("too_large", `Cannot submit a job with secret inputs: its input with them encrypted to the ${keys.length} runner keys of group "${group}" is ${bytes} bytes, over the limit of ${MAX_STORED_INPUT_BYTES}; send fewer or smaller secret inputs`);
  }
  return out;
}
