// meshStack's reason for refusing a call, as the runner quotes it (its log, the status page, the
// minimal final status it sends back, the outbox): masked, then cut to 200 characters. meshStack
// may echo a value it was sent (a secret input, a sensitive output, the API key), so its text is
// never quoted unmasked. It is masked whole before the cut, a start of a secret at its end too,
// so a cut leaves neither the head of a secret nor half a mask.

import type { RedactionScope } from "../../log/redact.ts";
import { DETAIL_MAX } from "./api-client.ts";
import { keepHead } from "./short-message.ts";

/** `said` (MeshstackCallError.detail) masked with `scope` and its parents, at most 200 characters. */
export function quotedReason(said: string, scope: RedactionScope): string {
  return keepHead(scope.strings(said) as string, DETAIL_MAX);
}

/**
 * The values of the sensitive outputs in a status update (`steps[].outputs[key]` with
 * `isSensitive: true`), as text: what the update itself adds to the run's secrets. After a
 * restart they are the only sensitive outputs the runner knows.
 */
export function sensitiveOutputValues(body: Record<string, unknown>): string[] {
  const values: string[] = [];
  for (const step of Array.isArray(body.steps) ? (body.steps as unknown[]) : []) {
    const outputs = step !== null && typeof step === "object" ? (step as { outputs?: unknown }).outputs : undefined;
    if (outputs === null || typeof outputs !== "object") continue;
    for (const output of Object.values(outputs as Record<string, unknown>)) {
      if (output === null || typeof output !== "object" || (output as { isSensitive?: unknown }).isSensitive !== true) continue;
      const value = (output as { value?: unknown }).value;
      if (value !== null && value !== undefined) values.push(typeof value === "string" ? value : JSON.stringify(value));
    }
  }
  return values;
}
