// The pipeline integrations' HTTP calls: bounded bodies, retries of transient failures (network
// errors, 5xx, 429 and rate limits with their reset time) with full-jitter backoff, and errors
// that name the integration and the call but never a credential. A call that is not idempotent
// (a trigger) is retried only when the server surely did not act on it (429, a refused
// connection) or the caller's `alreadyDone` check says for certain that it did not; otherwise its
// error says it may have gone through. Rate limits pace the
// client, not one call: after an answer that says the budget is spent (a 429, GitHub's 403, or a
// success with `x-ratelimit-remaining: 0` or Azure's `Retry-After`), no call goes out before the
// time the API named, and only the job's cancel or timeout ends that wait sooner. That time is
// kept per (API origin, credential) in the runner's shared holds (rate-holds.ts): every job that
// calls the same API with the same credential waits for it, not only the one that learned it.

import { Backoff } from "../../util/backoff.ts";
import { EdgeError, errorMessage } from "../../errors.ts";
import { clipWords } from "../../util/clip-words.ts";
import { publicUrl, scrubUrls } from "../../config/url.ts";
import { readLimitedText } from "../../util/read-limited.ts";
import { sleep as realSleep } from "../../util/time.ts";
import { rateHoldKey, rateHolds, type RateHolds } from "../rate-holds.ts";
import type { ActionContext } from "../sdk.ts";
import { outboundFetch } from "../../platform/outbound-fetch.ts";

const BODY_MAX = 4 * 1024 * 1024;
/**
 * A rate-limit wait longer than this fails the call instead of holding the job: GitHub's hourly
 * window is the longest any of these APIs documents, so a longer Retry-After is an outage or a ban.
 * Shorter waits are waited out; the job's timeout and cancel still end them (the sleep takes the signal).
 */
export const LONGEST_WAIT_MS = 65 * 60_000;
/**
 * How long one try may take, answer and body, before it is given up like a dropped connection: a
 * hung connection would otherwise stall a poll (or a trigger) until the job's timeout.
 */
export const CALL_TIMEOUT_MS = 60_000;
/** GitHub: a secondary rate limit that names no time: "wait for at least one minute", longer each time. */
const UNTIMED_WAIT_MS = 60_000;

export interface ApiCall {
  /** "GitHub", "GitLab", "Azure DevOps": named in every error. */
  integration: string;
  /** What the call is for, named in errors: "dispatch workflow", "poll run". */
  call: string;
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  /**
   * Whose rate limit the call draws on, when that is not its credential: a GitHub App's
   * installation tokens all draw on the installation's. Default: the credential (hashed).
   */
  budget?: string;
  /** JSON (object) or a form (URLSearchParams). */
  body?: unknown;
  /** GET is; a trigger is not. */
  idempotent: boolean;
  /**
   * For a non-idempotent call after an ambiguous failure: true when an earlier try did act, false
   * only when it surely did not (then the call is sent again); throws when it cannot tell (then
   * the call fails saying it may have gone through).
   */
  alreadyDone?: () => Promise<boolean>;
  /**
   * A credential that can expire during a job (a GitHub App's installation token): asked for
   * before every try, so a token near its end is renewed; after a 401 it is renewed and the call
   * tried once more (a 401 means the server did not act, so even a trigger is safe to send again).
   */
  credential?: CallCredential;
  /** Status codes that are answers, not errors (e.g. 404 while a run is not yet listed). */
  accept?: readonly number[];
  /** Aborts the call; default ctx.signal. A cancel must still reach the API after ctx.signal aborted. */
  signal?: AbortSignal;
}

/** What authenticates one try of a call: headers, and whose rate limit it draws on (ApiCall.budget). */
export interface CallAuth {
  headers: Record<string, string>;
  budget?: string;
}

export interface CallCredential {
  /** The credential for the next try; `signal` is the call's (a cancel outlives the job's signal). */
  current(signal: AbortSignal): Promise<CallAuth>;
  /** `refused` got a 401: drop it. True when a new one may be asked for and the call tried again. */
  renew(refused: CallAuth): boolean;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ApiClientOptions {
  maxAttempts?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  /** One try's time limit (CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /** Where the rate-limit holds live; default the process's (rate-holds.ts). */
  holds?: RateHolds;
}

export class ApiClient {
  readonly #ctx: ActionContext;
  readonly #o: Required<ApiClientOptions>;
  /** This client's own hold (epoch ms), kept too: it holds even if the shared table is busy or full. */
  #notBefore = 0;
  /** The hold was already logged (a rate-limit answer says why it waits). */
  #holdLogged = false;

  constructor(ctx: ActionContext, options: ApiClientOptions = {}) {
    this.#ctx = ctx;
    this.#o = { maxAttempts: 6, minBackoffMs: 250, maxBackoffMs: 10_000, callTimeoutMs: CALL_TIMEOUT_MS, sleep: realSleep, now: Date.now, holds: rateHolds(), ...options };
  }

  async request<T = unknown>(call: ApiCall): Promise<ApiResponse<T>> {
    const backoff = new Backoff({ minMs: this.#o.minBackoffMs, maxMs: this.#o.maxBackoffMs });
    const signal = call.signal ?? this.#ctx.signal;
    const where = `${call.integration}: cannot ${call.call} (${call.method} ${publicUrl(call.url)})`;
    let untimed = 0;
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      const auth = call.credential === undefined ? undefined : await call.credential.current(signal);
      const sent: ApiCall = auth === undefined ? call : { ...call, headers: { ...call.headers, ...auth.headers }, ...(auth.budget === undefined ? {} : { budget: auth.budget }) };
      // No call with this credential goes to this API before a time the API named (rate-holds.ts).
      const key = rateHoldKey(originOf(sent.url), sent.budget === undefined ? `credential ${credentialOf(sent)}` : `budget ${sent.budget}`);
      await this.#paced(key, where, signal);
      if (signal.aborted) throw new EdgeError("job_cancelled", `${where}: cancelled`);
      // A trigger's own signal outlives the job's (triggerSignal), for the answer of one already in
      // flight; a job cancelled before it is sent (or sent again) does not start anything.
      if (!call.idempotent && this.#ctx.signal.aborted) throw new EdgeError("job_cancelled", `${where}: not sent: the job was cancelled`);
      let response: Response;
      // The try's own deadline also bounds reading its body (the body streams under the same signal).
      const deadline = AbortSignal.timeout(this.#o.callTimeoutMs);
      const trySignal = AbortSignal.any([signal, deadline]);
      const late = `no answer within ${this.#o.callTimeoutMs} ms`;
      try {
        response = await outboundFetch(sent.url, this.#init(sent, trySignal));
      } catch (error) {
        if (signal.aborted) throw new EdgeError("job_cancelled", `${where}: cancelled`);
        // Runtimes quote the URL in some fetch errors (Node: "…a URL that includes credentials: …").
        const why = deadline.aborted ? late : scrubUrls(errorMessage(error));
        // Refused means nothing was sent; a reset or timeout may have reached the server.
        const notSent = /ECONNREFUSED|Unable to connect|connection refused/i.test(why);
        if (await this.#mayRetry(call, attempt, notSent, `${where}: ${why}`, signal)) {
          this.#note(`${where}: ${why}; retrying`);
          await this.#o.sleep(backoff.next(), signal);
          continue;
        }
        throw new EdgeError("connection_failed", `${where}: ${why}${mayHaveActed(call, notSent)}`, { retryable: true });
      }
      const accepted = call.accept?.includes(response.status) === true || (response.status >= 200 && response.status < 300 && response.status !== 203);
      // A 403 is a rate limit or a refusal: GitHub's secondary limit may say so only in the body.
      const text = accepted ? undefined : await bodyText(response);
      let wait = accepted ? undefined : rateLimitWaitMs(response, this.#o.now());
      if (wait === undefined && response.status === 403 && /rate limit/i.test(text ?? "")) wait = UNTIMED_WAIT_MS * 2 ** Math.min(untimed++, 6);
      if (wait !== undefined) {
        if (wait > LONGEST_WAIT_MS || attempt >= this.#o.maxAttempts) {
          throw new EdgeError("integration_failed", `${where}: rate limited (answer ${response.status}) for ${Math.ceil(wait / 1000)} s more`, { retryable: true });
        }
        // The server refused the request outright: even a trigger is safe to send again.
        this.#note(`${where}: rate limited (${response.status}); waiting ${Math.ceil(wait / 1000)} s as the API asks`);
        this.#holdFor(key, Math.max(wait, 50));
        this.#holdLogged = true;
        continue;
      }
      if (accepted) {
        let body: T;
        try {
          body = (await readBody(response, where)) as T;
        } catch (error) {
          if (signal.aborted) throw new EdgeError("job_cancelled", `${where}: cancelled`);
          if (!deadline.aborted || error instanceof EdgeError) throw error;
          // Answered, but the body stalled: idempotent calls are tried again (a poll), a trigger is not.
          if (call.idempotent && attempt < this.#o.maxAttempts) {
            this.#note(`${where}: ${late} (the answer's body stalled); retrying`);
            await this.#o.sleep(backoff.next(), signal);
            continue;
          }
          throw new EdgeError("connection_failed", `${where}: ${late} (the answer's body stalled)${call.idempotent ? "" : "; it went through, but its answer is lost"}`, { retryable: true });
        }
        // A success can still say the budget is spent: the next call waits instead of being refused.
        const pace = paceMs(response, this.#o.now());
        if (pace !== undefined) this.#holdFor(key, Math.min(pace, LONGEST_WAIT_MS));
        return { status: response.status, headers: response.headers, body };
      }
      const detail = errorDetail(text ?? "");
      // An expired or revoked token: one more try with a new one.
      if (response.status === 401 && auth !== undefined && !renewed && call.credential?.renew(auth) === true) {
        renewed = true;
        this.#note(`${where}: the credentials were refused (401); retrying once with a new token`);
        continue;
      }
      if (response.status === 401 || response.status === 403 || response.status === 203) {
        // 203 is how Azure DevOps answers a bad PAT on some routes: a sign-in page.
        throw new EdgeError("integration_unauthorized", `${where}: the credentials were refused (${response.status}${detail})`);
      }
      if (response.status >= 500 && (await this.#mayRetry(call, attempt, false, `${where}: answer ${response.status}${detail}`, signal))) {
        this.#note(`${where}: answer ${response.status}; retrying`);
        await this.#o.sleep(backoff.next(), signal);
        continue;
      }
      throw new EdgeError("integration_failed", `${where}: answer ${response.status}${detail}${response.status >= 500 ? mayHaveActed(call, false) : ""}`, { retryable: response.status >= 500 });
    }
  }

  #holdFor(key: bigint, ms: number): void {
    const now = this.#o.now();
    this.#notBefore = Math.max(this.#notBefore, now + ms);
    this.#o.holds.hold(key, now + ms, now);
  }

  /**
   * Waits until the API's named time, learned by this job or another with the same credential;
   * a cancel or timeout of this job (the signal) ends its own wait at once.
   */
  async #paced(key: bigint, where: string, signal: AbortSignal): Promise<void> {
    const now = this.#o.now();
    const wait = Math.max(this.#notBefore, this.#o.holds.notBefore(key, now)) - now;
    if (wait <= 0) return;
    if (!this.#holdLogged && wait > 1000) this.#ctx.log.info(`${where}: waiting ${Math.ceil(wait / 1000)} s for the API's rate limit to reset`);
    this.#holdLogged = false;
    await this.#o.sleep(wait, signal);
    if (signal.aborted) throw new EdgeError("job_cancelled", `${where}: cancelled while waiting for the API's rate limit to reset`);
  }

  #init(call: ApiCall, signal: AbortSignal): RequestInit {
    const headers: Record<string, string> = { accept: "application/json", ...call.headers };
    const init: RequestInit = { method: call.method, headers, signal, redirect: "error" };
    if (call.body instanceof URLSearchParams) {
      init.body = call.body;
    } else if (call.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(call.body);
    }
    return init;
  }

  /**
   * Whether to send the call again. A trigger may have started something: it is sent again only
   * when the caller's `alreadyDone` says for certain that it did not; a check that cannot tell
   * (it throws) fails the call, naming `failure`, the ambiguous answer.
   */
  async #mayRetry(call: ApiCall, attempt: number, notSent: boolean, failure: string, signal: AbortSignal): Promise<boolean> {
    if (attempt >= this.#o.maxAttempts) return false;
    if (call.idempotent || notSent) return true;
    if (call.alreadyDone === undefined) return false;
    let done: boolean;
    try {
      done = await call.alreadyDone();
    } catch (error) {
      const code = signal.aborted || (error instanceof EdgeError && error.code === "job_cancelled") ? "job_cancelled" : "integration_failed";
      throw new EdgeError(code, `${failure}; it may have gone through and cannot be checked (${errorMessage(error)}), so it is not sent again`, { cause: error });
    }
    if (done) throw new AlreadyDone();
    return true;
  }

  #note(message: string): void {
    this.#ctx.log.warn(message);
  }
}

/** For a trigger's ambiguous failure (the server may have acted): says so, and that it was not sent again. */
function mayHaveActed(call: ApiCall, notSent: boolean): string {
  return call.idempotent || notSent ? "" : "; it may have gone through, so it is not sent again";
}

/** The API's origin, for the rate-hold key. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * What the call authenticates with, for the rate-hold key only (hashed there, never kept): the
 * Authorization or PRIVATE-TOKEN header, or a GitLab trigger form's token; "" for none.
 */
function credentialOf(call: ApiCall): string {
  for (const [name, value] of Object.entries(call.headers ?? {})) {
    if (/^(authorization|private-token)$/i.test(name)) return value;
  }
  return call.body instanceof URLSearchParams ? (call.body.get("token") ?? "") : "";
}

/** Thrown out of request() when `alreadyDone` found that the first try of a trigger did act. */
export class AlreadyDone extends Error {
  constructor() {
    super("The request was carried out by an earlier try");
    this.name = "AlreadyDone";
  }
}

/** How long the API asks us to wait, or undefined when this is no rate-limit answer. */
export function rateLimitWaitMs(response: Response, now: number): number | undefined {
  const retryAfter = response.headers.get("retry-after");
  // GitHub's secondary limits answer 403 (or 429) with retry-after and a remaining budget above 0.
  const limited = response.status === 429 || (response.status === 403 && (response.headers.get("x-ratelimit-remaining") === "0" || retryAfter !== null));
  if (!limited) return undefined;
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 86_400) * 1000;
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const reset = Number(response.headers.get("x-ratelimit-reset") ?? response.headers.get("ratelimit-reset") ?? NaN);
  // GitHub and GitLab send an epoch second; a small number is seconds from now (RateLimit-Reset draft).
  if (Number.isFinite(reset)) return reset > 1e9 ? Math.max(0, reset * 1000 - now) : reset * 1000;
  return UNTIMED_WAIT_MS;
}

/**
 * After a success: how long before the next call, when the answer says the budget is spent
 * (Azure DevOps sends Retry-After on answers it delayed; GitHub and GitLab a remaining count of 0
 * with the reset time), or undefined.
 */
export function paceMs(response: Response, now: number): number | undefined {
  const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter, 86_400) * 1000;
  const remaining = response.headers.get("x-ratelimit-remaining") ?? response.headers.get("ratelimit-remaining");
  if (remaining !== "0") return undefined;
  const reset = Number(response.headers.get("x-ratelimit-reset") ?? response.headers.get("ratelimit-reset") ?? NaN);
  if (!Number.isFinite(reset)) return undefined;
  return reset > 1e9 ? Math.max(0, reset * 1000 - now) : reset * 1000;
}

async function readBody(response: Response, where: string): Promise<unknown> {
  const text = await readCapped(response, BODY_MAX, where);
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new EdgeError("integration_failed", `${where}: the answer is not JSON`);
  }
}

async function readCapped(response: Response, max: number, where: string): Promise<string> {
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(length) && length > max) {
    await response.body?.cancel().catch(() => undefined);
    throw new EdgeError("integration_failed", `${where}: the answer is over ${max} bytes`);
  }
  // A chunked answer declares no length: the cap holds as it streams in, never after.
  return readLimitedText(response.body, {
    maxBytes: max,
    tooLarge: () => {
      throw new EdgeError("integration_failed", `${where}: the answer is over ${max} bytes`);
    },
  });
}

/** An error answer's body (at most 64 KiB), or "" when it cannot be read. */
async function bodyText(response: Response): Promise<string> {
  try {
    return (await readCapped(response, 64 * 1024, "")).trim();
  } catch {
    return "";
  }
}

/** The API's own message, short and on one line (APIs do not echo credentials in them): ": …" or "". */
export function errorDetail(text: string): string {
  let message = text;
  try {
    const json = JSON.parse(text) as { message?: unknown; error?: unknown; error_description?: unknown };
    const m = json.message ?? json.error_description ?? json.error;
    message = typeof m === "string" ? m : JSON.stringify(m ?? json);
  } catch {
    // not JSON: an HTML sign-in page says nothing useful
    if (text.startsWith("<")) message = "";
  }
  // Cut at a space: the runner redacts the job's error only later (clip-words.ts).
  message = scrubUrls(clipWords(message.replace(/\s+/g, " "), 200));
  return message === "" ? "" : `: ${message}`;
}
