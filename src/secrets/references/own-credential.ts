// Whether a secret's value, as a job would receive it, holds one of the runner's own backend
// credentials (a Vault token or AppRole id, a GCP service-account key or access token): one rule for
// every backend, so a policy that lets the runner read where its own credential is stored never
// hands that credential to a job. It looks for the forms a stored copy realistically takes: inside
// a longer text (a JSON field, a line with its newline), a PEM key also with its lines re-wrapped or
// JSON-escaped (a service-account key file's "private_key"), and base64 of such text (either alphabet,
// padded or not; the whole value, or a run of it inside a longer text such as a JSON field).

import { pemBlocks } from "../../util/pem-blocks.ts";

/** A credential shorter than this (a custom AppRole role_id, a test's) is matched as the whole value only: inside longer text it would refuse ordinary values. */
const MIN_INSIDE_CHARS = 8;
/**
 * A run of base64 (standard or URL-safe alphabet, padded or not) long enough to hold a credential
 * of MIN_INSIDE_CHARS: the whole value without whitespace, and each such run inside it (a JSON
 * field holding an encoded token), is decoded once.
 */
const BASE64_RUN = /[A-Za-z0-9+/_-]{12,}={0,2}/g;
/** Runs decoded per value at most: bounds the work a large value costs. */
const MAX_BASE64_RUNS = 1_000;

/** True when `text` holds any of `credentials` (empty ones are ignored). Never says which: callers name the reference, not the value. */
export function holdsOwnCredential(text: string, credentials: Iterable<string>): boolean {
  const own = [...credentials].filter((c) => c !== "");
  if (own.length === 0) return false;
  if (holds(text, own)) return true;
  for (const decoded of base64Texts(text)) if (holds(decoded, own)) return true;
  return false;
}

function holds(text: string, own: readonly string[]): boolean {
  const trimmed = text.trim();
  /** The text without whitespace and JSON's escapes of line breaks and "/", made once, when a PEM key is looked for. */
  let squeezed: string | undefined;
  for (const credential of own) {
    if (credential.length < MIN_INSIDE_CHARS) {
      if (trimmed === credential.trim()) return true;
      continue;
    }
    if (text.includes(credential)) return true;
    for (const block of pemBlocks(credential)) {
      if (block === "unterminated") break;
      const body = block.body.replace(/\s+/g, "");
      if (body.length < MIN_INSIDE_CHARS) continue;
      // Base64 has no backslash: any run of them before n, r, t or / is an escape (once or nested).
      squeezed ??= text.replace(/\\+[nrt]/g, "").replace(/\\+\//g, "/").replace(/\s+/g, "");
      if (squeezed.includes(body)) return true;
    }
  }
  return false;
}

/** The UTF-8 texts that the value (without whitespace) and the base64 runs inside it decode to. */
function* base64Texts(text: string): Generator<string> {
  const compact = text.replace(/\s+/g, "");
  const whole = utf8OfBase64(compact);
  if (whole !== undefined) yield whole;
  let runs = 0;
  for (const match of text.matchAll(BASE64_RUN)) {
    if (++runs > MAX_BASE64_RUNS) return;
    if (match[0] === compact) continue;
    const decoded = utf8OfBase64(match[0]);
    if (decoded !== undefined) yield decoded;
  }
}

/** `run` decoded, when all of it is base64 (either alphabet, padding optional) of UTF-8 text. */
function utf8OfBase64(run: string): string | undefined {
  const data = run.replace(/=+$/, "");
  // A length of 1 more than a multiple of 4 is no base64; other characters are not either.
  if (data.length < 12 || data.length % 4 === 1 || !/^[A-Za-z0-9+/_-]+$/.test(data) || run.length - data.length > 2) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(data.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
  } catch {
    return undefined;
  }
}
