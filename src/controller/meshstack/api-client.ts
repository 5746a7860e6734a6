// meshStack's building block run API as the runner calls it: login (API key, or deprecated basic
// auth) with a cached token, the claim, register source, PATCH status and plan artifact downloads.
// Every call carries every header meshcloud's runners send (and the two the Kotlin ones omit);
// calls about a run use its run token. Answers are bounded before they are read.

import { EdgeError, errorMessage } from "../../errors.ts";
import { publicUrl } from "../../config/url.ts";
import { readLimited } from "../../util/read-limited.ts";
import { parseRetryAfter } from "../../util/backoff.ts";
import { headerUnsafeCharacter } from "../../util/header-value.ts";
import { outboundFetch, type OutboundFetch } from "../../platform/outbound-fetch.ts";

export const RUN_MEDIA_TYPE = "application/vnd.meshcloud.api.meshbuildingblockrun.v1.hal+json";
/** meshcloud's run controller reads and updates its registration with this type. */
export const RUNNER_MEDIA_TYPE = "application/vnd.meshcloud.api.meshbuildingblockrunner.v1-preview.hal+json";
/** A claimed run is a few KiB; 8 MiB leaves room for FILE inputs without trusting any size. */
const MAX_RUN_BYTES = 8 * 1024 * 1024;
const MAX_SMALL_BYTES = 64 * 1024;
export const MAX_PLAN_BYTES = 128 * 1024 * 1024;
const LOGIN_MIN_CACHE_MS = 1000;
const LOGIN_EARLY_MS = 30_000;

export type MeshstackAuth =
  | { kind: "apiKey"; clientId: string; clientSecret: string }
  | { kind: "basic"; username: string; password: string };

export interface MeshstackClientOptions {
  /** meshStack's API base URL, without a trailing slash. */
  baseUrl: string;
  auth: MeshstackAuth;
  runnerName: string;
  runnerVersion: string;
  /** X-Block-Runner-Node-Id: this runner process. */
  nodeId: string;
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /**
   * Where the login's tokens are registered as secrets: the runner passes the process-wide
   * redactor (from-config.ts; the runner's log, /status). Without it they are not registered: a
   * test's client does not fill the process's redactor with the tokens it makes up.
   */
  redaction?: RedactionTarget;
}

interface RedactionTarget {
  add(value: string): void;
  remove(value: string): void;
}

/**
 * Logins whose tokens stay registered: the current one and the one before (a late answer or an
 * error about a call made with it may still echo it); older ones are dropped, so a runner that
 * logs in every hour for months does not grow its process matcher with each.
 */
const LOGINS_MASKED = 2;

/** A failed call: `status` is the HTTP status (0 when no answer came), `retryAfterMs` from the server. */
export class MeshstackCallError extends EdgeError {
  readonly status: number;
  /** True when the request may have reached meshStack (a timeout or a cut connection). */
  readonly outcomeUnknown: boolean;
  /**
   * What meshStack's answer said (its `message`), on one line, at most 4,096 characters;
   * undefined when it said nothing readable. Not masked and not in `message`: meshStack may echo
   * a value of the run (a secret input, a sensitive output), so it is quoted only by whoever
   * holds the run's redaction scope (run-channel.ts), masked and then cut to 200 characters.
   */
  readonly detail: string | undefined;
  constructor(message: string, status: number, options: { retryAfterMs?: number | undefined; outcomeUnknown?: boolean; detail?: string | undefined } = {}) {
    super(status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 0 ? "connection_failed" : "protocol_error", message, options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs });
    this.status = status;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.detail = options.detail;
  }
}

/** 4xx answers that a resend may change: a timeout, too early, too many requests. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

/** A 4xx that sending the same request again cannot change (every 4xx but 408, 425 and 429). */
export function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_4XX.has(status);
}

/** How much of meshStack's reason is quoted (after masking). */
export const DETAIL_MAX = 200;
/**
 * How much of it is kept to be masked: a secret echoed past the first 200 characters is masked
 * before the cut, so no start of one is left at the end of the quote.
 */
const DETAIL_READ_MAX = 4096;

/** The `message` (or `error`) of a JSON answer on one line, control characters out, at most 4,096 characters (a plain cut). */
export function answerMessage(text: string): string | undefined {
  let said: unknown;
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown } | null;
    said = body === null || typeof body !== "object" ? undefined : typeof body.message === "string" ? body.message : body.error;
  } catch {
    return undefined;
  }
  if (typeof said !== "string") return undefined;
  // deno-lint-ignore no-control-regex
  const line = said.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  if (line === "") return undefined;
  return line.slice(0, DETAIL_READ_MAX);
}

export type ClaimAnswer = { kind: "run"; run: unknown } | { kind: "none"; status: 404 | 409 };
export type PatchAnswer = { kind: "ok"; runAborted: boolean } | { kind: "ended"; runAborted: boolean };

export class MeshstackClient {
  readonly #o: MeshstackClientOptions;
  readonly #fetch: OutboundFetch;
  readonly #now: () => number;
  #token: { value: string; until: number } | undefined;
  #login: Promise<string> | undefined;
  readonly #redaction: RedactionTarget | undefined;
  /** The tokens of the last LOGINS_MASKED logins (access and refresh), oldest first. */
  readonly #maskedLogins: string[][] = [];
  /** Epoch ms of the last failed login and its message, for the status page. */
  lastLoginError: { at: number; message: string } | undefined;
  logins = 0;

  constructor(options: MeshstackClientOptions) {
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, "") };
    // Through the runner's proxy on every runtime (Node's global fetch takes none).
    this.#fetch = options.fetch ?? outboundFetch;
    this.#now = options.now ?? Date.now;
    this.#redaction = options.redaction;
  }

  get baseUrl(): string {
    return this.#o.baseUrl;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      Accept: RUN_MEDIA_TYPE,
      "Content-Type": RUN_MEDIA_TYPE,
      "User-Agent": `${this.#o.runnerName}/${this.#o.runnerVersion}`,
      "X-Meshcloud-Runner-Name": this.#o.runnerName,
      "X-Meshcloud-Runner-Version": this.#o.runnerVersion,
      "X-Block-Runner-Node-Id": this.#o.nodeId,
      ...extra,
    };
  }

  /** The API authorization header: a cached login token, or basic auth. */
  async #apiAuthorization(): Promise<string> {
    const auth = this.#o.auth;
    if (auth.kind === "basic") return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    if (this.#token !== undefined && this.#token.until > this.#now()) return `Bearer ${this.#token.value}`;
    this.#login ??= this.#doLogin(auth).finally(() => (this.#login = undefined));
    return `Bearer ${await this.#login}`;
  }

  /** Forgets the cached token (after a 401) so the next call logs in again. */
  dropToken(): void {
    this.#token = undefined;
  }

  async #doLogin(auth: Extract<MeshstackAuth, { kind: "apiKey" }>): Promise<string> {
    try {
      const response = await this.#call("POST", `${this.#o.baseUrl}/api/login`, {
        headers: this.headers({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify({ clientId: auth.clientId, clientSecret: auth.clientSecret }),
      }, "log in to meshStack");
      if (!response.ok) {
        throw new MeshstackCallError(`Cannot log in to meshStack at "${publicUrl(this.#o.baseUrl)}/api/login": HTTP ${response.status}${response.status === 401 || response.status === 403 ? " (check meshstackClientId and the client secret in apiKeyFile)" : ""}`, response.status, { retryAfterMs: response.retryAfterMs });
      }
      const body = parseJson(response.text, "the login answer");
      const token = body.access_token;
      const expiresIn = body.expires_in;
      // A token goes in a header: visible ASCII only (OAuth's b64token is a subset of it).
      if (!isToken(token)) throw new MeshstackCallError(`Cannot log in to meshStack: the answer has no usable "access_token"`, 502);
      // Secrets from here on: any later answer, error body or debug line that echoes them is
      // masked. A refresh token is not used, but masked all the same.
      this.#maskLogin([token, body.refresh_token]);
      const seconds = typeof expiresIn === "number" && Number.isFinite(expiresIn) ? Math.min(Math.max(expiresIn, 0), 86_400 * 30) : 60;
      this.#token = { value: token, until: this.#now() + Math.max(LOGIN_MIN_CACHE_MS, seconds * 1000 - LOGIN_EARLY_MS) };
      this.logins++;
      this.lastLoginError = undefined;
      return token;
    } catch (error) {
      this.lastLoginError = { at: this.#now(), message: errorMessage(error) };
      throw error;
    }
  }

  /**
   * Registers a login's tokens and drops those of the logins before the last LOGINS_MASKED. A
   * refresh token that is not a token (not visible ASCII, or over 16 KiB) could be sent by no one
   * and is not registered.
   */
  #maskLogin(values: unknown[]): void {
    if (this.#redaction === undefined) return;
    const tokens = values.filter(isToken);
    for (const token of tokens) this.#redaction.add(token);
    this.#maskedLogins.push(tokens);
    while (this.#maskedLogins.length > LOGINS_MASKED) {
      const kept = new Set(this.#maskedLogins.slice(1).flat());
      for (const old of this.#maskedLogins.shift() ?? []) if (!kept.has(old)) this.#redaction.remove(old);
    }
  }

  /** Logs in (API key) without claiming anything: what `doctor` checks. */
  async login(): Promise<void> {
    this.dropToken();
    await this.#apiAuthorization();
  }

  /** The runner as registered in meshStack (its `spec.publicKey` certificate), or undefined when unknown (404). */
  async getRunner(runnerUuid: string): Promise<Record<string, unknown> | undefined> {
    const url = `${this.#o.baseUrl}/api/meshobjects/meshbuildingblockrunners/${encodeURIComponent(runnerUuid)}`;
    const response = await this.#call("GET", url, { headers: this.headers({ Authorization: await this.#apiAuthorization(), Accept: RUNNER_MEDIA_TYPE }) }, "read the runner's registration", { maxBytes: MAX_RUN_BYTES });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new MeshstackCallError(`Cannot read the runner's registration in meshStack: HTTP ${response.status}`, response.status);
    return parseJson(response.text, "the runner's registration");
  }

  /** Claims one run for `runnerUuid`. Never retried here: a retry after an unknown outcome could claim a second run. */
  async claim(runnerUuid: string): Promise<ClaimAnswer> {
    const url = `${this.#o.baseUrl}/api/meshobjects/meshbuildingblockruns/create?forRunnerUuid=${encodeURIComponent(runnerUuid)}`;
    let response = await this.#call("POST", url, { headers: this.headers({ Authorization: await this.#apiAuthorization() }) }, "claim a run", { maxBytes: MAX_RUN_BYTES });
    // A 401 means nothing was claimed: log in again and ask once more.
    if (response.status === 401 && this.#o.auth.kind === "apiKey") {
      this.dropToken();
      response = await this.#call("POST", url, { headers: this.headers({ Authorization: await this.#apiAuthorization() }) }, "claim a run", { maxBytes: MAX_RUN_BYTES });
    }
    if (response.status === 404 || response.status === 409) return { kind: "none", status: response.status };
    if (response.status !== 200 && response.status !== 201) {
      throw new MeshstackCallError(`Cannot claim a run from meshStack: HTTP ${response.status}${response.status === 401 || response.status === 403 ? " (check the runner's credentials and runnerId)" : ""}`, response.status, { retryAfterMs: response.retryAfterMs, detail: answerMessage(response.text) });
    }
    return { kind: "run", run: parseJson(response.text, "the claimed run") };
  }

  /** Registers this runner as the run's source; 409 (already registered) counts as success. */
  async register(url: string, runToken: string, body: unknown): Promise<void> {
    const response = await this.#call("POST", url, { headers: this.headers({ Authorization: `Bearer ${runToken}` }), body: JSON.stringify(body) }, "register as the run's source", { statusDecides: true });
    if (response.ok || response.status === 409) return;
    throw new MeshstackCallError(`Cannot register as the run's source: HTTP ${response.status}`, response.status, { retryAfterMs: response.retryAfterMs, detail: answerMessage(response.text) });
  }

  /** Sends a status update; `ended` when meshStack answered 409 (the run ended or was aborted). */
  async patch(url: string, runToken: string, body: unknown): Promise<PatchAnswer> {
    const response = await this.#call("PATCH", url, { headers: this.headers({ Authorization: `Bearer ${runToken}` }), body: JSON.stringify(body) }, "send a run's status", { statusDecides: true });
    if (response.ok || response.status === 409) {
      let aborted = false;
      try {
        aborted = response.text !== "" && (JSON.parse(response.text) as { runAborted?: unknown }).runAborted === true;
      } catch {
        aborted = false;
      }
      return response.ok ? { kind: "ok", runAborted: aborted } : { kind: "ended", runAborted: aborted };
    }
    throw new MeshstackCallError(`Cannot send the run's status: HTTP ${response.status}`, response.status, { retryAfterMs: response.retryAfterMs, detail: answerMessage(response.text) });
  }

  /** Downloads a predecessor DETECT run's plan (bytes, at most 128 MiB). */
  async planArtifact(url: string, runToken: string): Promise<Uint8Array> {
    const response = await this.#fetchRaw("GET", url, { headers: this.headers({ Authorization: `Bearer ${runToken}`, Accept: "application/octet-stream" }) }, "download the plan artifact");
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new MeshstackCallError(`Cannot download the plan artifact: HTTP ${response.status}`, response.status);
    }
    return readLimited(response.body, {
      maxBytes: MAX_PLAN_BYTES,
      tooLarge: (n) => {
        throw new EdgeError("input_invalid", `Cannot download the plan artifact: it is over ${MAX_PLAN_BYTES} bytes (${n} so far)`);
      },
    });
  }

  async #fetchRaw(method: string, url: string, init: { headers: Record<string, string>; body?: string }, action: string): Promise<Response> {
    const headers = { ...init.headers };
    if (init.body === undefined && method === "GET") delete headers["Content-Type"];
    try {
      return await this.#fetch(url, { method, headers, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(this.#o.requestTimeoutMs ?? 30_000), redirect: "error" });
    } catch (error) {
      const timedOut = (error as Error).name === "TimeoutError";
      throw new MeshstackCallError(`Cannot ${action} at "${new URL(url).origin}": ${timedOut ? "no answer in time" : errorMessage(error)}`, 0, { outcomeUnknown: true });
    }
  }

  /**
   * One call, its answer read into memory, at most `maxBytes` of it. `statusDecides`: the call is
   * answered by its status alone (register, PATCH), its body only adds `runAborted` or a reason.
   * There a body over the cap, or one that broke off after the status came, is read as empty
   * instead of failing the call: a 2xx is meshStack's acknowledgement whatever follows it, and
   * an error that made the runner resend an update meshStack took would resend it for ever (the
   * same answer each time), with the run's later updates and final status queued behind it. What
   * the body said is lost: `runAborted` false, as when it is not there (a run aborted in
   * meshStack is told again on the next update's answer).
   */
  async #call(method: string, url: string, init: { headers: Record<string, string>; body?: string }, action: string, read: { maxBytes?: number; statusDecides?: boolean } = {}): Promise<{ status: number; ok: boolean; text: string; retryAfterMs: number | undefined }> {
    const maxBytes = read.maxBytes ?? MAX_SMALL_BYTES;
    const response = await this.#fetchRaw(method, url, init, action);
    const answered = { status: response.status, ok: response.ok, retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), this.#now()) };
    let bytes: Uint8Array;
    try {
      bytes = await readLimited(response.body, {
        maxBytes,
        tooLarge: () => {
          throw new MeshstackCallError(`Cannot ${action}: meshStack's answer is over ${maxBytes} bytes`, 502);
        },
      });
    } catch (error) {
      if (read.statusDecides === true) return { ...answered, text: "" };
      if (error instanceof MeshstackCallError) throw error;
      throw new MeshstackCallError(`Cannot ${action}: the answer broke off (${errorMessage(error)})`, 0, { outcomeUnknown: true });
    }
    return { ...answered, text: new TextDecoder().decode(bytes) };
  }
}

/** A bearer token as it can go in a header: visible ASCII (not only b64token: see #doLogin), at most 16 KiB. */
function isToken(value: unknown): value is string {
  return typeof value === "string" && value.length <= 16_384 && headerUnsafeCharacter(value) === undefined;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new MeshstackCallError(`Cannot read ${what} from meshStack: not a JSON object`, 502);
}
