// Whether a secret's value, as a job would receive it, holds one of the runner's own backend
// credentials (a Vault token or AppRole id, a GCP service-account key or access token): one rule for
// every backend, so a policy that lets the runner read where its own credential is stored never
// hands that credential to a job. It looks for the forms a stored copy realistically takes: inside
// a longer text (a JSON field, a line with its newline), a PEM key also with its lines re-wrapped or
// JSON-escaped (a service-account key file's "private_key"), and a value that is base64 of such text.

import { pemBlocks } from "../../util/pem-blocks.ts";

/** A credential shorter than this (a custom AppRole role_id, a test's) is matched as the whole value only: inside longer text it would refuse ordinary values. */
const MIN_INSIDE_CHARS = 8;
/** Standard base64, whitespace removed; a value that is base64 of a credential's text is decoded once. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `text` holds any of `credentials` (empty ones are ignored). Never says which: callers name the reference, not the value. */
export function holdsOwnCredential(text: string, credentials: Iterable<string>): boolean {
  const own = [...credentials].filter((c) => c !== "");
  if (own.length === 0) return false;
  if (holds(text, own)) return true;
  const decoded = base64Text(text);
  return decoded !== undefined && holds(decoded, own);
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

/** The value decoded, when the whole of it is base64 of UTF-8 text. */
function base64Text(text: string): string | undefined {
  const compact = text.replace(/\s+/g, "");
  if (compact.length < MIN_INSIDE_CHARS || !BASE64.test(compact)) return undefined;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(compact, "base64"));
  } catch {
    return undefined;
  }
}
