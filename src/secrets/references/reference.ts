// A secret reference as a job names it: `vault:kv/data/app#field` (optional `?version=N`),
// `gcp:projects/P/secrets/S[/versions/V]`, `controller:NAME` (or a bare NAME), `env:NAME`,
// `file:/path`. Parsed once, bounded, and shown in errors as the job wrote it (never a value).

import { EdgeError } from "../../errors.ts";

export type Backend = "controller" | "vault" | "gcp" | "env" | "file";
export const BACKENDS: readonly Backend[] = ["controller", "vault", "gcp", "env", "file"];

export type SecretReference =
  | { backend: "controller"; raw: string; name: string }
  | { backend: "vault"; raw: string; path: string; field: string; version?: number }
  | { backend: "gcp"; raw: string; project: string; secret: string; version: string }
  | { backend: "env"; raw: string; name: string }
  | { backend: "file"; raw: string; path: string };

const MAX_REF_CHARS = 512;
/** An environment variable name as env: references and secretEnvNames spell it. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const VAULT_PATH = /^[A-Za-z0-9_.\-/]+$/;
/**
 * Vault's own paths, not secret engines a policy mounts for jobs: `auth/` (auth/token/lookup-self
 * answers the runner's own token), `sys/` (mounts, policies, wrapping, internal UI endpoints),
 * `identity/` (identity/oidc/token/NAME mints a token for the runner's identity) and `cubbyhole/`
 * (the runner's token's private storage). Compared without case so no spelling reaches them.
 */
export const VAULT_OWN_PATHS: readonly string[] = ["auth", "sys", "identity", "cubbyhole"];
/**
 * The segment of a Vault path that names one of Vault's own mounts, if any. Vault Enterprise and
 * HCP take namespaces from the path's front (`ns1/auth/token/lookup-self` is auth/… in namespace
 * ns1, `data/auth/…` in namespace data), so the first segment alone is not enough. Refused: an own
 * name first, or anywhere before the last segment (every API path under those mounts goes
 * deeper); kept: an own name as the last segment (`kv/app/auth`, a secret called auth).
 * A KV v2 path (…/MOUNT/data/…, kvV2DataIndex()) counts the segments up to its data/ only: below
 * it are the secret's folders, and `secret/data/sys/db` (or `ns1/secret/data/sys/db` in namespace
 * ns1) is a secret in a folder called sys. Read as namespace `secret/data` and sys/db (a
 * namespace may be called data), it could reach Vault's own API; the backend refuses a path Vault
 * says is in one of its own mounts (vault-mounts.ts) and, where Vault does not say, takes the
 * answer of a path with an own name below data/ only in KV v2's shape (data.data and
 * data.metadata.version), which no answer of those mounts has (vault-mounts.ts readsAsKvV2()).
 */
function ownPathSegment(segments: readonly string[]): string | undefined {
  const data = kvV2DataIndex(segments);
  return segments.find((part, i) => (i === 0 || (i < segments.length - 1 && (data === -1 || i < data))) && isOwnName(part));
}

/** One of Vault's own mount names, in any case. */
function isOwnName(segment: string): boolean {
  return VAULT_OWN_PATHS.includes(segment.toLowerCase());
}

/**
 * Where a path's KV v2 `data/` can be: the first `data` segment after the first and before the
 * last (`kv/data/app`; `ns1/kv/data/app` and `team/kv/data/app` with a namespace or a mount of
 * two segments in front), or -1 when the path cannot be KV v2 in any mount.
 */
export function kvV2DataIndex(segments: readonly string[]): number {
  for (let i = 1; i < segments.length - 1; i++) if (segments[i] === "data") return i;
  return -1;
}

/**
 * Whether the path names one of Vault's own mounts below its data/ segment, before the last
 * segment (`ns/data/auth/token/lookup-self`): parsed as a KV v2 secret's folders, so its answer is
 * taken only as KV v2 where Vault does not say which mount the path is in.
 */
export function hasOwnNameBelowData(segments: readonly string[]): boolean {
  const data = kvV2DataIndex(segments);
  return data !== -1 && segments.some((part, i) => i > data && i < segments.length - 1 && isOwnName(part));
}

const GCP = /^projects\/([a-z0-9-]{1,64})\/secrets\/([A-Za-z0-9_-]{1,255})(?:\/versions\/(latest|[1-9][0-9]{0,18}))?$/;

export function parseReference(raw: string): SecretReference {
  const bad = (why: string) => new EdgeError("secret_reference_invalid", `Cannot resolve secret reference "${raw.slice(0, 120)}": ${why}`);
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_REF_CHARS) throw bad(`a reference is 1 to ${MAX_REF_CHARS} characters`);
  const colon = raw.indexOf(":");
  // No scheme: a name in the controller's store, as before references had schemes.
  if (colon === -1) return { backend: "controller", raw, name: raw };
  const scheme = raw.slice(0, colon);
  const rest = raw.slice(colon + 1);
  switch (scheme) {
    case "controller":
      if (rest === "") throw bad("the secret name is missing");
      return { backend: "controller", raw, name: rest };
    case "env":
      if (!ENV_NAME.test(rest)) throw bad("an environment variable name is letters, digits and _");
      return { backend: "env", raw, name: rest };
    case "file":
      if (!rest.startsWith("/")) throw bad("a file reference needs an absolute path");
      return { backend: "file", raw, path: rest };
    case "gcp": {
      const match = GCP.exec(rest);
      if (match === null) throw bad(`a gcp reference is gcp:projects/PROJECT/secrets/NAME[/versions/VERSION|latest]`);
      return { backend: "gcp", raw, project: match[1]!, secret: match[2]!, version: match[3] ?? "latest" };
    }
    case "vault": {
      // vault:PATH[?version=N]#FIELD, the query also accepted after the field.
      let body = rest;
      let version: number | undefined;
      const q = body.indexOf("?");
      let hash = body.indexOf("#");
      if (q !== -1) {
        const end = hash > q ? hash : body.length;
        // Read as written, not URL-decoded: ?version=1&version=9 (first one wins) or ?version=1%30
        // (read as 10) would pin a version other than the one a reader of the job sees.
        const query = /^version=([1-9][0-9]{0,8})$/.exec(body.slice(q + 1, end));
        if (query === null) throw bad(`the only query is ?version=N with N ≥ 1, once, in plain digits`);
        version = Number(query[1]);
        body = body.slice(0, q) + body.slice(end);
        hash = body.indexOf("#");
      }
      if (hash === -1) throw bad(`a vault reference names its field: vault:PATH#FIELD`);
      const path = body.slice(0, hash).replace(/^\/+/, "");
      const field = body.slice(hash + 1);
      const segments = path.split("/");
      // `.` too: a URL drops it, so kv/./x would be read as kv/x and ./auth/… as auth/….
      if (!VAULT_PATH.test(path) || segments.some((part) => part === ".." || part === "." || part === "")) throw bad("the vault path has characters other than letters, digits and _.-/ or an empty, . or .. segment");
      const own = ownPathSegment(segments);
      if (own !== undefined) throw bad(`"${own}/" is Vault's own API (${VAULT_OWN_PATHS.map((p) => `${p}/`).join(", ")}), never readable by jobs, also after a namespace prefix (ns1/${own}/…); reference a secret engine's path`);
      // KV v1 has no versions and ignores ?version: the pin would silently read the current value.
      // Whether the mount is KV v2 is checked at the read (vault-mounts.ts); here only what no mount can be.
      if (version !== undefined && kvV2DataIndex(segments) === -1) throw bad(`?version=N pins a KV v2 version, and "${path}" is not a KV v2 path (MOUNT/data/…)`);
      if (field === "" || field.length > 256) throw bad("the field after # is 1 to 256 characters");
      return version === undefined ? { backend: "vault", raw, path, field } : { backend: "vault", raw, path, field, version };
    }
    default:
      throw bad(`unknown scheme "${scheme.slice(0, 20)}" (use vault:, gcp:, controller:, env: or file:)`);
  }
}
