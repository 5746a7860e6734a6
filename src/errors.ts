// One error base for the whole runner: a stable `code` crosses Worker and network boundaries,
// classes do not, so callers branch on `code` (the controller connection in one table,
// src/controller/failure.ts).

export type ErrorCode =
  | "config_invalid"
  // a command line that does not parse (unknown flag, missing value): exit 64
  | "usage_invalid"
  | "unauthorized"
  | "forbidden"
  | "protocol_error"
  | "connection_failed"
  | "listen_failed"
  | "stale_attempt"
  | "plugin_not_found"
  | "plugin_error"
  | "plugin_crashed"
  | "plugin_exit"
  | "plugin_timeout"
  | "job_cancelled"
  | "job_interrupted"
  | "input_invalid"
  // secrets asked for by a plugin (ctx.secrets.get) that the job does not have
  | "secret_not_found"
  // secrets (src/secrets/): one code per reason a secret cannot reach a job
  | "secret_undecryptable"
  | "secret_reference_invalid"
  | "secret_permission_denied"
  | "secret_backend_unavailable"
  | "secret_corrupt"
  | "not_found"
  | "conflict"
  | "internal"
  // plugin bundles (src/plugin-bundles/): one code per reason a bundle is refused
  | "bundle_unsigned"
  | "bundle_signature_invalid"
  | "bundle_key_unknown"
  | "bundle_key_expired"
  | "bundle_digest_mismatch"
  | "bundle_name_mismatch"
  | "bundle_version_mismatch"
  | "bundle_too_large"
  | "bundle_truncated"
  | "bundle_not_found"
  | "bundle_cache_corrupt"
  // distribution (src/ops/): release verification, downloads, self-update
  // job storage and artifacts (src/storage/): over a size limit, the backend failed, the attempt has ended
  | "storage_limit"
  | "storage_failed"
  | "storage_closed"
  | "release_unverified"
  | "download_failed"
  | "busy"
  // the reference controller: a body past its cap, and a store that cannot be written
  | "too_large"
  | "store_full"
  | "store_unavailable"
  // built-in integrations (src/plugins/builtin/): a command or pipeline that ran and failed,
  // an approval refused or not given in time, an integration's API refusing or failing
  | "command_failed"
  | "approval_rejected"
  | "approval_timeout"
  | "integration_unauthorized"
  | "integration_failed";

export interface EdgeErrorOptions {
  /** A hint for a caller that may try again (a plugin's own retries); the controller connection decides by code (src/controller/failure.ts). */
  retryable?: boolean;
  /** How long the other side asked us to wait (HTTP Retry-After), in ms. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class EdgeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: EdgeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EdgeError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }
}

/** The shape an error takes on the wire (Worker messages, protocol frames, job results). */
export interface SerializedError {
  code: string;
  message: string;
}

/** Turns anything thrown into a wire error without leaking a stack or an object dump. */
export function serializeError(error: unknown, fallbackCode: ErrorCode = "internal"): SerializedError {
  if (error instanceof EdgeError) return error.toJSON();
  if (error instanceof Error) {
    const raw = (error as unknown as { code?: unknown }).code;
    const code = typeof raw === "string" ? raw : fallbackCode;
    return { code, message: error.message || error.name };
  }
  return { code: fallbackCode, message: typeof error === "string" ? error : "Unknown error" };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
