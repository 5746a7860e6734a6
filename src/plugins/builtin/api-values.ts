// Values the pipeline APIs hand back that the integrations put into URLs, outputs and messages:
// checked before use, since the answer comes from another system (a proxy, a compromised or
// buggy server). One rule for the three integrations.

import { EdgeError } from "../../errors.ts";
import { wholeOrLength } from "./quoted-value.ts";

const URL_MAX = 2048;

/** A run's or pipeline's id: a positive safe integer, or `integration_failed` naming what is wrong. */
export function apiId(value: unknown, integration: string, what: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return value;
  const shown = typeof value === "number" ? String(value) : typeof value;
  throw new EdgeError("integration_failed", `${integration}: the answer's ${what} id is not a positive integer (${shown.slice(0, 40)})`);
}

/** True for an id the API could have given (used to skip, not fail on, a bad entry in a list). */
export function isApiId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** A web link to show: an http(s) URL of at most 2 KiB, else undefined (it is only informative). */
export function webUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > URL_MAX) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A name or state from an answer, as text: a string (or a number) cut to `max`, else undefined.
 * Never String() on an object: `{"toString": 1}` makes that throw.
 */
export function apiText(value: unknown, max: number): string | undefined {
  if (typeof value === "string") return value.slice(0, max);
  if (typeof value === "number" && Number.isFinite(value)) return String(value).slice(0, max);
  return undefined;
}

/**
 * A name or state from an answer that more text follows (GitLab's stage before its job's name, a
 * run's state quoted in a log line or error): whole, or past `max` characters only its length
 * (quoted-value.ts: a cut there could show a secret's first characters).
 */
export function apiTextWhole(value: unknown, max: number): string | undefined {
  const text = apiText(value, Infinity);
  return text === undefined ? undefined : wholeOrLength(text, max);
}
