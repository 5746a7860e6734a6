// Whether a secret's value, as a job would receive it, holds one of the runner's own backend
// credentials (a Vault token or AppRole id, a GCP service-account key or access token): one rule for
// every backend, so a policy that lets the runner read where its own credential is stored never
// hands that credential to a job. It looks for the forms a stored copy realistically takes: inside
// a longer text (a JSON field, a line with its newline), a PEM key also with its lines re-wrapped or
// JSON-escaped (a service-account key file's "private_key"), and such text encoded as base64, hex
// or percent-encoding, also one inside another (stored-encodings.ts).

import { pemBlocks } from "../../util/pem-blocks.ts";
import { storedDecodings } from "./stored-encodings.ts";

/** A credential shorter than this (a custom AppRole role_id, a test's) is matched as the whole value only: inside longer text it would refuse ordinary values. */
const MIN_INSIDE_CHARS = 8;

/** The credentials sorted by how they are looked for, prepared once per value (a value has many decoded texts). */
interface Wanted {
  /** Short ones: the whole text, trimmed. */
  whole: Set<string>;
  /** Inside the text as they are. */
  inside: string[];
  /** PEM keys' bodies without whitespace: inside the text squeezed of whitespace and JSON's escapes. */
  pemBodies: string[];
}

/** True when `text` holds any of `credentials` (empty ones are ignored). Never says which: callers name the reference, not the value. */
export function holdsOwnCredential(text: string, credentials: Iterable<string>): boolean {
  const wanted = prepare(credentials);
  if (wanted === undefined) return false;
  if (holds(text, wanted)) return true;
  for (const decoded of storedDecodings(text)) if (holds(decoded, wanted)) return true;
  return false;
}

function prepare(credentials: Iterable<string>): Wanted | undefined {
  const wanted: Wanted = { whole: new Set(), inside: [], pemBodies: [] };
  for (const credential of credentials) {
    if (credential === "") continue;
    if (credential.length < MIN_INSIDE_CHARS) {
      wanted.whole.add(credential.trim());
      continue;
    }
    wanted.inside.push(credential);
    for (const block of pemBlocks(credential)) {
      if (block === "unterminated") break;
      const body = block.body.replace(/\s+/g, "");
      if (body.length >= MIN_INSIDE_CHARS) wanted.pemBodies.push(body);
    }
  }
  return wanted.whole.size + wanted.inside.length === 0 ? undefined : wanted;
}

function holds(text: string, wanted: Wanted): boolean {
  if (wanted.whole.size > 0 && wanted.whole.has(text.trim())) return true;
  for (const credential of wanted.inside) if (text.includes(credential)) return true;
  if (wanted.pemBodies.length === 0) return false;
  // Base64 has no backslash: any run of them before n, r, t or / is an escape (once or nested).
  const squeezed = text.replace(/\\+[nrt]/g, "").replace(/\\+\//g, "/").replace(/\s+/g, "");
  return wanted.pemBodies.some((body) => squeezed.includes(body));
}
