// A peer's JSON answer read through a capped reader: never `response.json()`, which holds a body
// of any size whole and throws the parser's own error for one that is not JSON. Used where the
// runner reads what its controller answers (session, secrets, artifacts).

import { EdgeError, errorMessage } from "../errors.ts";
import { readLimited } from "./read-limited.ts";

/**
 * The body parsed as JSON; `undefined` when it is not JSON. An answer past `maxBytes` is cut off
 * as soon as it passes (`protocol_error`), one that breaks off is `connection_failed`; both
 * messages start "Cannot <action>".
 */
export async function readJsonAnswer(response: Response, action: string, maxBytes: number): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(response.body, {
      maxBytes,
      tooLarge: (received) => {
        throw new EdgeError("protocol_error", `Cannot ${action}: the controller's answer is larger than ${maxBytes} bytes (${received} read)`);
      },
    });
  } catch (error) {
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("connection_failed", `Cannot ${action}: the controller's answer broke off (${errorMessage(error)})`);
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

/** `value` when it is a JSON object, else an empty one (so a field read finds nothing). */
export function objectOf(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
