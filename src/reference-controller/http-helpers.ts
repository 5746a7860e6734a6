// Shared HTTP pieces of the controller's Hono apps: the `{error:{code,message}}` body, reading a
// JSON body with a size limit, and the mapping from error codes to statuses.

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { EdgeError } from "../errors.ts";
import { checkJsonBounds, describeJsonProblem, STORED_JSON_BOUNDS } from "../util/json-bounds.ts";
import { readLimited } from "../util/read-limited.ts";
import { isStoreWriteError, storeRefusal } from "./store-failure.ts";

/** The largest body any endpoint reads (a long-poll send of a full batch); most take less. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Nesting any request body may have; fields that are stored are held to less (json-bounds.ts). */
const MAX_BODY_DEPTH = 100;

const STATUS: Record<string, ContentfulStatusCode> = {
  input_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  // The store cannot be written (store-health.ts): no space is 507, anything else 503.
  store_full: 507,
  store_unavailable: 503,
};

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/** Answers with the status an EdgeError's code maps to; anything else is a 500 without detail. */
export function errorFromException(c: Context, error: unknown): Response {
  // A file write that failed for a reason of the disk (the secrets file, a bundle) is refused
  // like any change while the store cannot be written: 507 or 503, never a bare 500.
  if (!(error instanceof EdgeError) && isStoreWriteError(error)) error = storeRefusal("store the change", error as Error);
  if (error instanceof EdgeError) {
    const status = STATUS[error.code] ?? 500;
    if (status === 503 || status === 507) c.header("Retry-After", "5");
    return errorResponse(c, status, error.code, error.message);
  }
  return errorResponse(c, 500, "internal", "Internal error; see the controller log");
}

/** Thrown by validators; becomes a 400. */
export function invalid(message: string): EdgeError {
  return new EdgeError("input_invalid", message);
}

/**
 * The request body parsed as JSON, read through one capped reader: a declared or streamed
 * (chunked) body past `maxBytes` is cut off as soon as it passes the cap, never held whole.
 * Throws `too_large` (413) for that and `input_invalid` for a missing, bad or too deeply nested body.
 */
export async function readJson(c: Context, action: string, maxBytes: number = MAX_BODY_BYTES): Promise<unknown> {
  const tooLarge = (): never => {
    throw new EdgeError("too_large", `Cannot ${action}: body is larger than ${maxBytes} bytes`);
  };
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxBytes) tooLarge();
  const broken = (): never => {
    throw invalid(`Cannot ${action}: the body broke off before its end`);
  };
  // A declared length within the cap bounds the body (the server reads exactly that many bytes):
  // read it whole, without a stream reader and a promise per chunk (a submit's way in, issue 15).
  const bytes = declared !== undefined && /^\d{1,10}$/.test(declared)
    ? new Uint8Array(await c.req.raw.arrayBuffer().catch(broken))
    : await readLimited(c.req.raw.body, { maxBytes, tooLarge, broken });
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") throw invalid(`Cannot ${action}: body is empty (expected a JSON object)`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`Cannot ${action}: body is not valid JSON`);
  }
  const problem = checkJsonBounds(value, { maxDepth: MAX_BODY_DEPTH, maxBytes: Number.MAX_SAFE_INTEGER });
  if (problem !== undefined) throw invalid(`Cannot ${action}: ${describeJsonProblem("body", problem)}`);
  return value;
}

/** Throws `input_invalid` naming `field` unless `value` is within the bounds of a stored JSON value. */
export function boundedJson(value: unknown, field: string, action: string): unknown {
  const problem = checkJsonBounds(value, STORED_JSON_BOUNDS);
  if (problem !== undefined) throw invalid(`Cannot ${action}: ${describeJsonProblem(field, problem)}`);
  return value;
}

export type Obj = Record<string, unknown>;

export function asObject(value: unknown, action: string): Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(`Cannot ${action}: body must be a JSON object`);
  return value as Obj;
}

/** Refuses fields the endpoint does not know, so a typo is an error rather than ignored. */
export function onlyFields(body: Obj, allowed: readonly string[], action: string): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw invalid(`Cannot ${action}: unknown field ${unknown.map((k) => `"${k.slice(0, 64)}"`).join(", ")} (allowed: ${allowed.join(", ")})`);
  }
}

/** Ids of runners and groups: safe in paths, logs and file names. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function optionalId(body: Obj, field: string, action: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !ID_PATTERN.test(v)) {
    throw invalid(`Cannot ${action}: "${field}" must be 1–128 characters of letters, digits, ".", "_", ":" or "-" (got ${JSON.stringify(v)?.slice(0, 80)})`);
  }
  return v;
}

export function optionalInt(body: Obj | Record<string, string | undefined>, field: string, action: string, min: number, max: number): number | undefined {
  const raw = body[field];
  if (raw === undefined) return undefined;
  const v = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalid(`Cannot ${action}: "${field}" must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)?.slice(0, 80)})`);
  }
  return v;
}
