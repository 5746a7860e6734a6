// Built-in "http": one HTTP(S) request with the job's cancellation, a body cap, and no other
// scheme (file:, data:, ftp: are refused so a job cannot read the runner's disk).

import { EdgeError, errorMessage } from "../../../errors.ts";
import { MAX_TIMER_MS } from "../../../util/time.ts";
import { definePlugin, type ActionContext } from "../../sdk.ts";
import { quotedValue } from "../quoted-value.ts";
import { outboundFetch } from "../../../platform/outbound-fetch.ts";

/** Larger bodies are cut here and the output says so; a runner is not a download manager. */
export const HTTP_BODY_LIMIT_BYTES = 1024 * 1024;

interface HttpInput {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

export interface HttpOutput {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the body was longer than HTTP_BODY_LIMIT_BYTES and was cut there. */
  truncated: boolean;
}

async function request(raw: unknown, ctx: ActionContext): Promise<HttpOutput> {
  const input = parseInput(raw);
  const where = `${input.method} ${input.url.origin}${input.url.pathname}`;
  const signal = input.timeoutMs === undefined ? ctx.signal : AbortSignal.any([ctx.signal, AbortSignal.timeout(input.timeoutMs)]);
  ctx.log.info(`Request ${where}`);
  let response: Response;
  try {
    const init: RequestInit = { method: input.method, headers: input.headers, signal, redirect: "follow" };
    if (input.body !== undefined) init.body = input.body;
    response = await outboundFetch(input.url, init);
  } catch (error) {
    throw failure(where, error, ctx, input.timeoutMs);
  }
  let body: { text: string; truncated: boolean };
  try {
    body = await readCapped(response);
  } catch (error) {
    throw failure(where, error, ctx, input.timeoutMs);
  }
  if (body.truncated) ctx.log.warn(`Response body of ${where} cut at ${HTTP_BODY_LIMIT_BYTES} bytes`);
  ctx.log.info(`Response ${response.status} from ${where}`);
  return { status: response.status, headers: Object.fromEntries(response.headers), body: body.text, truncated: body.truncated };
}

export default definePlugin({ name: "http", version: "1.0.0", actions: { default: request, request } });

function parseInput(raw: unknown): HttpInput {
  const bad = (why: string): EdgeError => new EdgeError("input_invalid", `Cannot run http request: ${why}`);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw bad("input must be an object with a \"url\"");
  const o = raw as Record<string, unknown>;
  if (typeof o.url !== "string") throw bad("\"url\" must be a string");
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw bad(`"url" is not a URL: ${quotedValue(o.url, 200)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw bad(`only http and https URLs are allowed, got "${url.protocol}"`);
  const method = o.method === undefined ? "GET" : o.method;
  if (typeof method !== "string" || !/^[A-Za-z]{1,16}$/.test(method)) throw bad(`"method" must be an HTTP method, got "${String(method)}"`);
  const headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    if (o.headers === null || typeof o.headers !== "object" || Array.isArray(o.headers)) throw bad("\"headers\" must be an object of strings");
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v !== "string") throw bad(`header "${k}" must be a string`);
      headers[k] = v;
    }
  }
  const input: HttpInput = { url, method: method.toUpperCase(), headers };
  if (o.body !== undefined && o.body !== null) {
    if (typeof o.body === "string") input.body = o.body;
    else {
      input.body = JSON.stringify(o.body);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
    }
  }
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== "number" || !Number.isInteger(o.timeoutMs) || o.timeoutMs <= 0 || o.timeoutMs > MAX_TIMER_MS) throw bad(`"timeoutMs" must be an integer from 1 to ${MAX_TIMER_MS}, got ${String(o.timeoutMs)}`);
    input.timeoutMs = o.timeoutMs;
  }
  return input;
}

async function readCapped(response: Response): Promise<{ text: string; truncated: boolean }> {
  if (response.body === null) return { text: "", truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > HTTP_BODY_LIMIT_BYTES) {
      chunks.push(value.subarray(0, HTTP_BODY_LIMIT_BYTES - size));
      size = HTTP_BODY_LIMIT_BYTES;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  // A cut may split a multi-byte character; the decoder replaces it rather than throwing.
  return { text: new TextDecoder().decode(all), truncated };
}

function failure(where: string, error: unknown, ctx: ActionContext, timeoutMs: number | undefined): EdgeError {
  if (ctx.signal.aborted) return new EdgeError("job_cancelled", `Cannot finish ${where}: cancelled`);
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return new EdgeError("connection_failed", `Cannot finish ${where}: no answer within ${timeoutMs} ms`, { retryable: true });
  }
  return new EdgeError("connection_failed", `Cannot finish ${where}: ${errorMessage(error)}`, { retryable: true });
}
