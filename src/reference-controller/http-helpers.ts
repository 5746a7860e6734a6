// Shared HTTP pieces of the controller's Hono apps: the `{error:{code,message}}` body, reading a
// JSON body with a size limit, and the mapping from error codes to statuses.

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { EdgeError } from "../errors.ts";

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const STATUS: Record<string, ContentfulStatusCode> = {
  input_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
};

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/** Answers with the status an EdgeError's code maps to; anything else is a 500 without detail. */
export function errorFromException(c: Context, error: unknown): Response {
  if (error instanceof EdgeError) return errorResponse(c, STATUS[error.code] ?? 500, error.code, error.message);
  return errorResponse(c, 500, "internal", "Internal error; see the controller log");
}

/** Thrown by validators; becomes a 400. */
export function invalid(message: string): EdgeError {
  return new EdgeError("input_invalid", message);
}

/** The request body parsed as JSON; throws `input_invalid` for a missing, huge or bad body. */
export async function readJson(c: Context, action: string): Promise<unknown> {
  const length = Number(c.req.header("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) throw invalid(`Cannot ${action}: body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw invalid(`Cannot ${action}: body is larger than ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") throw invalid(`Cannot ${action}: body is empty (expected a JSON object)`);
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(`Cannot ${action}: body is not valid JSON`);
  }
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
