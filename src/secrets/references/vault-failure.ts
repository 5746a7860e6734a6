// What a failed Vault call means for the job that asked: one table from HTTP status (or the
// transport's own refusal, or no answer) to an error code, with Vault's own `errors` text
// shortened. Names the reference and the Vault, never a value or a token.

import { EdgeError, type ErrorCode } from "../../errors.ts";
import { clipWords } from "../../util/clip-words.ts";

/**
 * A failed Vault call as the coded error a job sees: `where` names the reference and the Vault,
 * `action` what was tried ("read it", "log in with AppRole"). `passing`: the call's failure says
 * nothing of the token or the reference (a side question after the same token read the secret):
 * whatever the status, secret_backend_unavailable, retryable.
 */
export function vaultFailure(error: unknown, { where, action, timeoutMs, passing = false }: { where: string; action: string; timeoutMs: number; passing?: boolean }): EdgeError {
  const status = statusOf(error);
  const detail = vaultErrors(error);
  // The transport's own refusal (an answer too large).
  // A proxy that cannot open the tunnel to Vault says which proxy (never its credentials).
  if (error instanceof EdgeError) return new EdgeError(error.code === "connection_failed" ? "secret_backend_unavailable" : error.code, `${where}: ${error.message}`, { retryable: error.retryable });
  // The token is never sent to where a redirect points (a standby node, or anyone).
  if (status !== undefined && status >= 300 && status < 400) {
    return new EdgeError("secret_backend_unavailable", `${where}: Vault answered a redirect (${status}), not followed; point vaultAddr at the active node or its load balancer`, { retryable: true });
  }
  let code: ErrorCode;
  let why: string;
  if (status === 404) [code, why] = ["secret_not_found", "no secret at that path (404)"];
  // Vault answers a bad AppRole role or secret id with 400.
  else if (status === 403 || status === 401 || (status === 400 && action !== "read it")) [code, why] = ["secret_permission_denied", `permission denied (${status}) when trying to ${action}${detail}${passing ? "" : "; check the token's policy"}`];
  else if (status !== undefined && status >= 400 && status < 500 && status !== 429) [code, why] = ["secret_reference_invalid", `Vault refused the request (${status})${detail}`];
  else if (status !== undefined) [code, why] = ["secret_backend_unavailable", `Vault answered ${status}${detail}`];
  else [code, why] = ["secret_backend_unavailable", `Vault is unreachable (${networkReason(error, timeoutMs)})`];
  if (passing) code = "secret_backend_unavailable";
  return new EdgeError(code, `${where}: ${why}`, { retryable: code === "secret_backend_unavailable" });
}

/** The HTTP status of a failed node-vault call, if it got an answer. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  return typeof status === "number" ? status : undefined;
}

/** Vault's `errors` array, shortened; it names policies and paths, never a secret value. */
function vaultErrors(error: unknown): string {
  const errors = (error as { response?: { body?: { errors?: unknown } } } | null)?.response?.body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return "";
  // Cut at spaces: the message is redacted only where it is shown (clip-words.ts).
  return `: ${clipWords(errors.filter((e) => typeof e === "string").map((e: string) => clipWords(e, 200)).join("; "), 400)}`;
}

function networkReason(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT") return `no answer within ${timeoutMs} ms`;
  if (typeof code === "string") return code;
  return clipWords((error as Error)?.message ?? "unknown error", 200);
}
