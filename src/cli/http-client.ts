// A small client for the reference controller's admin API (/api/v1), used by the `job` and
// `runner` commands, the dev command and tests. Errors keep the server's code and message.

import { EdgeError, type ErrorCode, errorMessage } from "../errors.ts";
import type { JobJson } from "../reference-controller/records.ts";
import type { SubmitJobInput } from "../reference-controller/controller-core.ts";
import type { JobEvent } from "../reference-controller/job-logs.ts";
import type { RunnerInfo } from "../reference-controller/runner-registry.ts";
import { publicUrl } from "../config/url.ts";
import { nestsDeeperThan } from "../util/json-bounds.ts";
import { readLimitedText } from "../util/read-limited.ts";
import { outboundFetch, type OutboundFetch } from "../platform/outbound-fetch.ts";

/**
 * The largest answer the client reads (a page of 1,000 jobs or 10,000 log events fits); a larger
 * one is refused as it arrives, never held whole.
 */
export const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** An error answer is `{"error": {"code", "message"}}`; its body is read only this far. */
const MAX_ERROR_ANSWER_BYTES = 64 * 1024;
/** Deeper than a job (its input and output nest at most 64 levels) inside a list can be. */
const MAX_ANSWER_DEPTH = 100;

export interface AdminClientOptions {
  baseUrl: string;
  adminToken: string;
  fetch?: typeof fetch;
  /** Default DEFAULT_MAX_ANSWER_BYTES. */
  maxAnswerBytes?: number;
}

/** The body of POST /api/v1/jobs: the controller's own submit input. */
/** Secret inputs go by name and value; the controller encrypts them to the group's runner keys and stores only ciphertext. */
export type SubmitJobRequest = SubmitJobInput & { secretInputs?: Record<string, string> };

/** An answer other than 2xx; `status` is the HTTP status (0 when the controller was unreachable). */
export class AdminApiError extends EdgeError {
  readonly status: number;
  readonly serverCode: string;
  constructor(status: number, serverCode: string, message: string, retryable: boolean) {
    super(codeFor(status), message, { retryable });
    this.name = "AdminApiError";
    this.status = status;
    this.serverCode = serverCode;
  }
}

function codeFor(status: number): ErrorCode {
  if (status === 0) return "connection_failed";
  return ({ 400: "input_invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict" } as Record<number, ErrorCode>)[status] ?? "internal";
}

export class AdminClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #fetch: OutboundFetch;
  readonly #maxAnswerBytes: number;

  constructor(options: AdminClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.adminToken;
    // Through the forward proxy the environment names, on Node too (its global fetch takes none).
    this.#fetch = options.fetch ?? outboundFetch;
    this.#maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  /** The answer's text, refused (protocol_error) as soon as it passes `maxBytes`. */
  async #text(response: Response, what: string, maxBytes: number): Promise<string> {
    return readLimitedText(response.body, {
      maxBytes,
      tooLarge: () => {
        throw new AdminApiError(response.status, "protocol_error", `${what} answered ${response.status} with a body larger than ${maxBytes} bytes`, false);
      },
      broken: (error) => {
        throw new AdminApiError(0, "connection_failed", `${what}: the controller's answer broke off (${errorMessage(error)})`, true);
      },
    });
  }

  async #call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = `${this.baseUrl}/api/v1${path}`;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
      });
    } catch (error) {
      throw new AdminApiError(0, "connection_failed", `Cannot reach the controller at ${publicUrl(this.baseUrl)}: ${errorMessage(error)}`, true);
    }
    const text = await this.#text(response, `${method} ${path}`, response.ok ? this.#maxAnswerBytes : MAX_ERROR_ANSWER_BYTES);
    let parsed: unknown;
    try {
      parsed = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new AdminApiError(response.status, "protocol_error", `${method} ${path} answered ${response.status} with a body that is not JSON`, false);
    }
    // The commands print what they get: JSON.stringify throws on a value nested thousands deep.
    if (nestsDeeperThan(parsed, MAX_ANSWER_DEPTH)) {
      throw new AdminApiError(response.status, "protocol_error", `${method} ${path} answered ${response.status} with JSON nested deeper than ${MAX_ANSWER_DEPTH} levels`, false);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof error?.code === "string" ? error.code.slice(0, 128) : "unknown";
      const message = typeof error?.message === "string" ? error.message : `${method} ${path} answered ${response.status}`;
      throw new AdminApiError(response.status, code, message, response.status >= 500 || response.status === 429);
    }
    return parsed as T;
  }

  health(): Promise<{ status: string; version: string; [key: string]: unknown }> {
    return this.#call("GET", "/health");
  }

  registerRunner(input: { id: string; group?: string; publicKey?: string }, options: { rotate?: boolean } = {}): Promise<{ id: string; group: string; apiKey: string }> {
    return this.#call("POST", `/runners${options.rotate === true ? "?rotate=true" : ""}`, input);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return (await this.#call<{ runners: RunnerInfo[] }>("GET", "/runners")).runners;
  }

  deleteRunner(id: string): Promise<{ id: string; deleted: boolean }> {
    return this.#call("DELETE", `/runners/${encodeURIComponent(id)}`);
  }

  submitJob(input: SubmitJobRequest): Promise<JobJson> {
    return this.#call("POST", "/jobs", input);
  }

  setSecret(name: string, value: string): Promise<void> {
    return this.#call("PUT", `/secrets/${encodeURIComponent(name)}`, { value });
  }

  /** The first 1,000 names; `truncated` when the controller holds more (false from a controller that does not say). */
  async listSecrets(): Promise<{ secrets: string[]; truncated: boolean }> {
    const answer = await this.#call<{ secrets: string[]; truncated?: boolean }>("GET", "/secrets");
    return { secrets: answer.secrets, truncated: answer.truncated === true };
  }

  deleteSecret(name: string): Promise<void> {
    return this.#call("DELETE", `/secrets/${encodeURIComponent(name)}`);
  }

  getJob(id: string): Promise<JobJson> {
    return this.#call("GET", `/jobs/${encodeURIComponent(id)}`);
  }

  async listArtifacts(id: string): Promise<Array<{ name: string; size: number; sha256: string; contentType?: string; attempt: number; storedAt: number }>> {
    return (await this.#call<{ artifacts: Array<{ name: string; size: number; sha256: string; contentType?: string; attempt: number; storedAt: number }> }>("GET", `/jobs/${encodeURIComponent(id)}/artifacts`)).artifacts;
  }

  /** The artifact's bytes as a stream, with the digest the controller recorded. */
  async getArtifact(id: string, name: string): Promise<{ body: ReadableStream<Uint8Array>; sha256: string | null; size: number }> {
    const path = `/jobs/${encodeURIComponent(id)}/artifacts/${encodeURIComponent(name)}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${this.#token}` } });
    } catch (error) {
      throw new AdminApiError(0, "connection_failed", `Cannot reach the controller at ${publicUrl(this.baseUrl)}: ${errorMessage(error)}`, true);
    }
    if (!response.ok || response.body === null) {
      let error: { code?: string; message?: string } | undefined;
      try {
        error = (JSON.parse(await this.#text(response, `GET ${path}`, MAX_ERROR_ANSWER_BYTES)) as { error?: { code?: string; message?: string } }).error;
      } catch {
        // not JSON, or past the cap: the status says enough
      }
      throw new AdminApiError(response.status, error?.code ?? "unknown", error?.message ?? `GET ${path} answered ${response.status}`, response.status >= 500);
    }
    return { body: response.body, sha256: response.headers.get("x-artifact-sha256"), size: Number(response.headers.get("content-length") ?? "0") };
  }

  async listJobs(filter: { group?: string; status?: string; limit?: number } = {}): Promise<JobJson[]> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) query.set(k, String(v));
    const qs = query.size > 0 ? `?${query}` : "";
    return (await this.#call<{ jobs: JobJson[] }>("GET", `/jobs${qs}`)).jobs;
  }

  cancelJob(id: string): Promise<JobJson> {
    return this.#call("POST", `/jobs/${encodeURIComponent(id)}/cancel`);
  }

  /** Answers a job's manual step: approve or reject, with an optional comment. */
  decideJob(id: string, decision: "approve" | "reject", comment?: string): Promise<JobJson> {
    return this.#call("POST", `/jobs/${encodeURIComponent(id)}/${decision}`, comment === undefined ? {} : { comment });
  }

  /** Events with job-wide `seq > after`; pass the returned `nextSeq` as `after` next time. */
  jobLogs(id: string, after = 0, signal?: AbortSignal): Promise<{ events: JobEvent[]; nextSeq: number }> {
    return this.#call("GET", `/jobs/${encodeURIComponent(id)}/logs?after=${after}`, undefined, signal);
  }

  /** Long-polls until the job is terminal or `timeoutMs` passes (then the job as it is). */
  waitJob(id: string, timeoutMs = 30_000, signal?: AbortSignal): Promise<JobJson> {
    return this.#call("GET", `/jobs/${encodeURIComponent(id)}/wait?timeoutMs=${timeoutMs}`, undefined, signal);
  }
}
