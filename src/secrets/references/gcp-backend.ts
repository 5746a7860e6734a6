// `gcp:` references through Secret Manager's REST API: GET
// {endpoint}/v1/projects/P/secrets/S/versions/V:access, payload.data in base64 checked against
// payload.dataCrc32c. The access token comes from a service-account key file (a JWT assertion
// signed with jose, exchanged at the key's token_uri) or from the metadata server, and is cached
// until a minute before it expires; a 401 (revoked early) gets one new token and one retry. A
// version that is not ENABLED is secret_not_found saying its state. A value that holds the runner's
// own key or one of its access tokens is refused (own-credential.ts). Endpoints are configurable
// so tests can point at a fake.

import { EdgeError, errorMessage, type ErrorCode } from "../../errors.ts";
import { publicUrl } from "../../config/url.ts";
import { crc32c } from "./crc32c.ts";
import type { SecretReference } from "./reference.ts";
import { clipWords } from "../../util/clip-words.ts";
import { readLimitedText } from "../../util/read-limited.ts";
import { nestsDeeperThan, STORED_JSON_BOUNDS } from "../../util/json-bounds.ts";
import { SingleFlight } from "../../util/single-flight.ts";
import { holdsOwnCredential } from "./own-credential.ts";
import { outboundFetch, type OutboundFetch } from "../../platform/outbound-fetch.ts";

export interface GcpBackendOptions {
  /** Secret Manager base URL; default https://secretmanager.googleapis.com. */
  endpoint?: string;
  /** Service-account key (the JSON file's content); without it, the metadata server is asked. */
  serviceAccountJson?: string;
  /** Overrides the key's token_uri (tests). */
  tokenUrl?: string;
  /** Metadata server base; default http://metadata.google.internal. */
  metadataUrl?: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
  registerSecret?: (value: string) => void;
}

interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** Refresh a cached token this long before it expires. */
const EARLY_MS = 60_000;
/** A secret version or a token is a few KiB; an answer past this is refused as it arrives. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Access tokens still refused as a job's value (each until it expires): one is fetched per hour or so. */
const OWN_TOKENS_KEPT = 8;
/** Standard base64 with its padding, as Secret Manager sends payload.data. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class GcpBackend {
  readonly #o: GcpBackendOptions;
  readonly #fetch: OutboundFetch;
  readonly #now: () => number;
  readonly #account: ServiceAccount | undefined;
  #token: { value: string; expiresAt: number } | undefined;
  /** The token fetch, shared by the reads that need a token at the same time. */
  readonly #tokenFetch = new SingleFlight<string>();
  /** Access tokens it fetched that have not expired yet, newest last: never handed to a job. */
  readonly #ownTokens: Array<{ value: string; expiresAt: number }> = [];

  constructor(options: GcpBackendOptions) {
    this.#o = options;
    // Through the runner's proxy on every runtime (Node's global fetch takes none).
    this.#fetch = options.fetch ?? outboundFetch;
    this.#now = options.now ?? Date.now;
    this.#account = options.serviceAccountJson === undefined ? undefined : parseServiceAccount(options.serviceAccountJson);
    if (this.#account !== undefined) options.registerSecret?.(this.#account.private_key);
  }

  get label(): string {
    return `GCP Secret Manager at "${publicUrl(this.#endpoint)}"`;
  }

  get #endpoint(): string {
    return (this.#o.endpoint ?? "https://secretmanager.googleapis.com").replace(/\/+$/, "");
  }

  /**
   * `signal` (the job's) cancels the read: the :access call at once, and the wait for a token; the
   * token fetch itself is shared with other reads, ends at its own deadline (gcpTimeoutMs), and is
   * aborted when every read waiting for it was cancelled (a later read then fetches afresh).
   */
  async read(ref: Extract<SecretReference, { backend: "gcp" }>, signal?: AbortSignal): Promise<string> {
    const where = `Cannot resolve secret "${ref.raw}" from ${this.label}`;
    const url = `${this.#endpoint}/v1/projects/${ref.project}/secrets/${ref.secret}/versions/${ref.version}:access`;
    const access = async () => {
      const token = await this.#accessToken(ref.raw, signal, where);
      return { token, ...(await this.#call(url, { headers: { authorization: `Bearer ${token}` } }, where, signal)) };
    };
    let { token, status, body } = await access();
    if (status === 401) {
      // Revoked or expired before its time: one new token and one retry, then it is refused.
      this.#dropToken(token);
      ({ token, status, body } = await access());
      if (status === 401) this.#dropToken(token);
    }
    if (status !== 200) throw this.#failure(status, body, where, ref.version);
    const payload = (body as { payload?: { data?: unknown; dataCrc32c?: unknown } } | undefined)?.payload;
    if (typeof payload?.data !== "string") throw new EdgeError("secret_corrupt", `${where}: the answer has no payload.data`);
    // Strictly: Buffer.from(…, "base64") skips what is not base64 and decodes the rest.
    if (!BASE64.test(payload.data)) throw new EdgeError("secret_corrupt", `${where}: the answer's payload.data is not base64; refused`);
    const bytes = Buffer.from(payload.data, "base64");
    if (payload.dataCrc32c !== undefined) {
      const expected = Number(payload.dataCrc32c);
      if (!Number.isSafeInteger(expected) || crc32c(bytes) !== expected) {
        throw new EdgeError("secret_corrupt", `${where}: the payload's CRC32C does not match dataCrc32c (corrupted in transit); refused`);
      }
    }
    let text: string;
    try {
      // fatal: a payload that is not UTF-8 text (a binary secret) is refused, not turned into U+FFFD.
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new EdgeError("secret_corrupt", `${where}: the payload is not UTF-8 text; refused`);
    }
    // The service account may read where its own key is stored (a key file kept in Secret Manager).
    if (holdsOwnCredential(text, this.ownCredentials())) {
      throw new EdgeError("secret_permission_denied", `${where}: the value holds the runner's own GCP credential (its service-account key or access token), never readable by jobs; refused`);
    }
    return text;
  }

  /** The service-account key's private_key and the access tokens that have not expired: what no backend's value may hold (secret-backends.ts). */
  ownCredentials(): string[] {
    const now = this.#now();
    for (let i = this.#ownTokens.length - 1; i >= 0; i--) if (this.#ownTokens[i]!.expiresAt <= now) this.#ownTokens.splice(i, 1);
    return [...(this.#account === undefined ? [] : [this.#account.private_key]), ...this.#ownTokens.map((t) => t.value)];
  }

  /** Forgets `token` unless a concurrent read has already replaced it. */
  #dropToken(token: string): void {
    if (this.#token?.value === token) this.#token = undefined;
  }

  async #accessToken(ref: string, signal: AbortSignal | undefined, where: string): Promise<string> {
    if (this.#token !== undefined && this.#now() < this.#token.expiresAt - EARLY_MS) return this.#token.value;
    if (signal?.aborted) throw cancelled(where);
    try {
      return await this.#tokenFetch.run("token", (stop) => this.#fetchToken(ref, stop), signal);
    } catch (error) {
      // This read gave up (SingleFlight rejects with the signal's reason): the job's cancel.
      if (signal?.aborted) throw cancelled(where);
      throw error;
    }
  }

  /** `stop` aborts when no read waits for the token any more. */
  async #fetchToken(ref: string, stop: AbortSignal): Promise<string> {
    const where = `Cannot resolve secret "${ref}": cannot get a GCP access token`;
    let status: number;
    let body: unknown;
    if (this.#account !== undefined) {
      const tokenUrl = this.#o.tokenUrl ?? this.#account.token_uri ?? "https://oauth2.googleapis.com/token";
      const assertion = await this.#assertion(tokenUrl);
      ({ status, body } = await this.#call(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
      }, `${where} from "${tokenUrl}"`, stop));
    } else {
      const base = (this.#o.metadataUrl ?? "http://metadata.google.internal").replace(/\/+$/, "");
      ({ status, body } = await this.#call(`${base}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { "metadata-flavor": "Google" } }, `${where} from the metadata server`, stop));
    }
    if (status !== 200) {
      const oauth = body as { error?: unknown; error_description?: unknown } | undefined;
      const detail = typeof oauth?.error === "string" ? `: ${oauth.error}${typeof oauth.error_description === "string" ? ` (${clipWords(oauth.error_description, 200)})` : ""}` : "";
      const code: ErrorCode = status >= 500 || status === 429 ? "secret_backend_unavailable" : "secret_permission_denied";
      throw new EdgeError(code, `${where}: the token endpoint answered ${status}${detail}`);
    }
    const { access_token: value, expires_in: expiresIn } = (body ?? {}) as { access_token?: unknown; expires_in?: unknown };
    if (typeof value !== "string" || value === "") throw new EdgeError("secret_backend_unavailable", `${where}: the answer has no access_token`);
    this.#o.registerSecret?.(value);
    const seconds = typeof expiresIn === "number" && expiresIn > 0 ? Math.min(expiresIn, 24 * 3600) : 300;
    this.#token = { value, expiresAt: this.#now() + seconds * 1000 };
    this.#ownTokens.push(this.#token);
    if (this.#ownTokens.length > OWN_TOKENS_KEPT) this.#ownTokens.shift();
    return value;
  }

  async #assertion(audience: string): Promise<string> {
    const account = this.#account!;
    const { SignJWT, importPKCS8 } = await import("jose");
    const key = await importPKCS8(account.private_key, "RS256");
    const now = Math.floor(this.#now() / 1000);
    return new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(account.private_key_id === undefined ? {} : { kid: account.private_key_id }) })
      .setIssuer(account.client_email)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
  }

  /** One call with its deadline; `cancel` (a job's signal) ends it too, body included, as job_cancelled. */
  async #call(url: string, init: RequestInit, where: string, cancel?: AbortSignal): Promise<{ status: number; body: unknown }> {
    // A call, not a property: the checks after an await must see an abort that came meanwhile.
    const isCancelled = (): boolean => cancel?.aborted === true;
    if (isCancelled()) throw cancelled(where);
    const deadline = AbortSignal.timeout(this.#o.timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(url, { ...init, signal: cancel === undefined ? deadline : AbortSignal.any([deadline, cancel]), redirect: "error" });
    } catch (error) {
      if (isCancelled()) throw cancelled(where);
      const reason = (error as Error).name === "TimeoutError" ? `no answer within ${this.#o.timeoutMs} ms` : clipWords(errorMessage(error), 200);
      throw new EdgeError("secret_backend_unavailable", `${where}: the service is unreachable (${reason})`, { retryable: true });
    }
    const text = await readLimitedText(response.body, {
      maxBytes: MAX_ANSWER_BYTES,
      tooLarge: () => {
        throw new EdgeError("secret_corrupt", `${where}: the answer is over ${MAX_ANSWER_BYTES} bytes`);
      },
      broken: (error) => {
        if (isCancelled()) throw cancelled(where);
        throw new EdgeError("secret_backend_unavailable", `${where}: the answer broke off (${clipWords(errorMessage(error), 200)})`, { retryable: true });
      },
    });
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    // Secret Manager's answers nest two levels; a deep one is refused before anything walks it.
    if (nestsDeeperThan(body, STORED_JSON_BOUNDS.maxDepth)) throw new EdgeError("secret_corrupt", `${where}: the answer nests deeper than ${STORED_JSON_BOUNDS.maxDepth} levels; refused`);
    return { status: response.status, body };
  }

  #failure(status: number, body: unknown, where: string, version: string): EdgeError {
    const error = (body as { error?: { message?: unknown; status?: unknown } } | undefined)?.error;
    const detail = typeof error?.status === "string" ? `: ${error.status}${typeof error.message === "string" ? ` (${clipWords(error.message, 200)})` : ""}` : "";
    if (status === 404) return new EdgeError("secret_not_found", `${where}: not found (404)${detail}`);
    // Accessing a DISABLED or DESTROYED version is 400 FAILED_PRECONDITION; `latest` is the
    // newest version whatever its state, so a destroyed newest version fails `latest` too.
    if (status === 400 && error?.status === "FAILED_PRECONDITION") {
      const state = typeof error.message === "string" ? /is in ([A-Z_]{1,32}) state/.exec(error.message)?.[1] : undefined;
      const which = version === "latest" ? "the latest version (the newest, whatever its state)" : `version ${version}`;
      return new EdgeError("secret_not_found", `${where}: ${which} is ${state ?? "not enabled"}${detail}; enable it, or reference an enabled version (…/versions/N)`);
    }
    if (status === 403 || status === 401) return new EdgeError("secret_permission_denied", `${where}: permission denied (${status})${detail}; the account needs roles/secretmanager.secretAccessor`);
    if (status >= 500 || status === 429) return new EdgeError("secret_backend_unavailable", `${where}: the service answered ${status}${detail}`, { retryable: true });
    return new EdgeError("secret_reference_invalid", `${where}: the service refused the request (${status})${detail}`);
  }
}

/** A read ended by the job's signal: the job was cancelled or the runner stops (not Google's fault). */
function cancelled(where: string): EdgeError {
  return new EdgeError("job_cancelled", `${where}: the read was cancelled before Secret Manager answered`, { retryable: false });
}

function parseServiceAccount(json: string): ServiceAccount {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new EdgeError("config_invalid", "Cannot use the GCP service-account key file: it is not JSON");
  }
  const { client_email: email, private_key: key, private_key_id: kid, token_uri: tokenUri } = parsed;
  if (typeof email !== "string" || typeof key !== "string" || !key.includes("PRIVATE KEY")) {
    throw new EdgeError("config_invalid", "Cannot use the GCP service-account key file: it needs client_email and private_key (a PEM key)");
  }
  return { client_email: email, private_key: key, ...(typeof kid === "string" ? { private_key_id: kid } : {}), ...(typeof tokenUri === "string" ? { token_uri: tokenUri } : {}) };
}
