// The one way plugin-bundle code builds its errors, so every refusal reads the same way and
// carries one stable code: `Cannot verify bundle "hello@1.0.0": signature missing`.

import { EdgeError, type ErrorCode } from "../errors.ts";

export type BundleErrorCode = Extract<ErrorCode, `bundle_${string}`>;

/** Every code a bundle can be refused with, for metrics labels and docs. */
export const BUNDLE_ERROR_CODES: readonly BundleErrorCode[] = [
  "bundle_unsigned",
  "bundle_signature_invalid",
  "bundle_key_unknown",
  "bundle_key_expired",
  "bundle_digest_mismatch",
  "bundle_name_mismatch",
  "bundle_version_mismatch",
  "bundle_too_large",
  "bundle_truncated",
  "bundle_not_found",
  "bundle_cache_corrupt",
];

export interface BundleErrorOptions {
  /** The verb of the message: "verify" (default), "download", "load", "store". */
  action?: string;
  retryable?: boolean;
  cause?: unknown;
}

/** `ref` is `name@version` or a digest; `reason` is the lower-case tail of the message. */
export function bundleError(code: ErrorCode, ref: string, reason: string, options: BundleErrorOptions = {}): EdgeError {
  const message = `Cannot ${options.action ?? "verify"} bundle "${ref}": ${reason}`;
  return new EdgeError(code, message, {
    ...(options.retryable === undefined ? {} : { retryable: options.retryable }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
}

export function isBundleErrorCode(code: string): code is BundleErrorCode {
  return (BUNDLE_ERROR_CODES as readonly string[]).includes(code);
}
