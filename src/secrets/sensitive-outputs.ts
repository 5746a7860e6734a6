// Sensitive outputs: a plugin's `ctx.outputs.set(name, value, {sensitive: true})` travels as
// {"$sensitive": value} under its name in the job's output. The runner masks the value everywhere
// else (logs, steps, errors, other outputs) but passes this one entry through; the controller
// seals it at once (AES-256-GCM with its key file, the job id and name authenticated) and shows
// {"$sensitive": true} wherever the job is shown; only the admin route for that one output opens it.

import { EdgeError } from "../errors.ts";
import type { AtRestCipher } from "./at-rest.ts";

export const SENSITIVE = "$sensitive";

/** True for a {"$sensitive": …} entry (exactly that one key). */
export function isSensitiveEntry(value: unknown): value is { $sensitive: unknown } {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === SENSITIVE;
}

/** The output with every top-level sensitive entry sealed (controller side, before storing). */
export function sealSensitiveOutputs(output: unknown, cipher: AtRestCipher, jobId: string): unknown {
  if (output === null || typeof output !== "object" || Array.isArray(output)) return output;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(output)) {
    if (isSensitiveEntry(value)) {
      changed = true;
      out[name] = { [SENSITIVE]: cipher.seal(JSON.stringify(value.$sensitive ?? null), `${jobId}/${name}`) };
    } else out[name] = value;
  }
  return changed ? out : output;
}

/** The output as shown: every sensitive entry replaced by {"$sensitive": true}. */
export function hideSensitiveOutputs(output: unknown): unknown {
  if (output === null || typeof output !== "object" || Array.isArray(output)) return output;
  if (!Object.values(output).some(isSensitiveEntry)) return output;
  return Object.fromEntries(Object.entries(output).map(([name, value]) => [name, isSensitiveEntry(value) ? { [SENSITIVE]: true } : value]));
}

/** Opens one sealed sensitive output; `not_found` when the job has no such sensitive output. */
export function openSensitiveOutput(output: unknown, name: string, cipher: AtRestCipher, jobId: string): unknown {
  const entry = output !== null && typeof output === "object" && !Array.isArray(output) ? (output as Record<string, unknown>)[name] : undefined;
  if (!isSensitiveEntry(entry) || typeof entry.$sensitive !== "string") {
    throw new EdgeError("not_found", `Cannot read output "${name.slice(0, 64)}" of job "${jobId}": the job has no such sensitive output`);
  }
  return JSON.parse(cipher.open(entry.$sensitive, `${jobId}/${name}`)) as unknown;
}
