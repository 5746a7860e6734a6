// Pieces the built-in integrations' input schemas share.

import type { JsonSchema } from "./input-schema.ts";

/** An environment variable name. */
export const ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";

/** A path inside the job's working directory: relative, no "." or ".." segment, no empty segment. */
export const RELATIVE_PATH = "^(?:(?!\\.{1,2}(?:/|$))[A-Za-z0-9._-]{1,128}/){0,16}(?!\\.{1,2}$)[A-Za-z0-9._-]{1,128}$";

/** The name of a secret the job declared (`job submit --secrets`), never its value. */
export const SECRET_REF: JsonSchema = { type: "string", minLength: 1, maxLength: 256, "x-secret-ref": true };

/** An http(s) base URL of a self-hosted or cloud API; no user:password in it (credentials come by reference). */
export const BASE_URL: JsonSchema = { type: "string", maxLength: 2048, pattern: "^https?://(?![^/@\\s]*@)[^\\s]+$" };

/**
 * How often a pipeline integration polls its run. The floor keeps a typo from hammering the API
 * (each poll is two calls; GitHub allows 5,000 an hour per token); the default suits the real services.
 */
export const POLL_MS: JsonSchema = { type: "integer", minimum: 100, maximum: 300000, default: 5000, description: "how often the run is polled, in ms: 100 to 300000 (each poll is two API calls)" };
