// A driver error (connection refused, terminated, timeout) as the controller's own: 503
// `store_unavailable` with the action named, retried by runners and clients like any outage.

import { EdgeError, errorMessage } from "../../errors.ts";

export function storeUnavailable(action: string, error: unknown): EdgeError {
  if (error instanceof EdgeError) return error;
  return new EdgeError("store_unavailable", `Cannot ${action}: the PostgreSQL store did not answer (${errorMessage(error).slice(0, 200)})`, { retryable: true, cause: error });
}
