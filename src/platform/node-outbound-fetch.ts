// fetch() as the runner's outbound calls other than the controller's need it, on Node behind a
// forward proxy (outbound-fetch.ts): proxyFetch (node-proxy-fetch.ts) does one exchange; this
// adds what the global fetch would have done around it: a Request as the input, every body type
// fetch takes (a form, a Blob, URLSearchParams are serialized with their content type; a
// Request's body is read first, as fetch sends it with its length), and
// redirects as fetch has them ("follow" up to 20 hops, "error", "manual"). Each hop asks the
// agents again, so a redirect to a host NO_PROXY names goes direct. Imported on Node only.

import { proxyFetch, type NodeProxyAgents } from "./node-proxy-fetch.ts";

/** fetch's own limit (the Fetch standard, "HTTP-redirect fetch"). */
const MAX_REDIRECTS = 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS = ["content-type", "content-length", "content-encoding", "content-language", "content-location"];
/** Never sent on to another origin (undici drops the same): credentials, and a Host naming the first. */
const CROSS_ORIGIN_DROPPED = ["authorization", "cookie", "proxy-authorization", "host"];

/** A Request's body up to this is held to be sent with a Content-Length (and again on a 307/308). */
const MAX_HELD_REQUEST_BODY_BYTES = 16 * 1024 * 1024;

type Body = string | ArrayBuffer | ArrayBufferView | ReadableStream | null;

/** `fetch(input, init)` on node:http(s) through `agents`, following redirects as `init.redirect` says. */
export async function followingFetch(input: string | URL | Request, init: RequestInit, agents: NodeProxyAgents): Promise<Response> {
  const request = input instanceof Request ? input : undefined;
  let url = new URL(request?.url ?? String(input));
  let method = (init.method ?? request?.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers ?? request?.headers);
  const signal = init.signal ?? request?.signal ?? undefined;
  const mode = init.redirect ?? request?.redirect ?? "follow";
  let body = init.body !== undefined || request === undefined ? await bodyOf(init.body, headers) : await requestBodyOf(request);
  for (let hop = 0; ; hop++) {
    const response = await proxyFetch(url.href, { method, headers, body: body as BodyInit | null, ...(signal === undefined ? {} : { signal }) }, agents);
    const location = response.headers.get("location");
    if (!REDIRECTS.has(response.status) || location === null || mode === "manual") return withUrl(response, url, hop > 0);
    await response.body?.cancel();
    // Undici's words, so callers that recognise its failures recognise these.
    if (mode === "error") throw new TypeError(`fetch failed: unexpected redirect (${response.status}) from "${url.origin}${url.pathname}"`);
    if (hop + 1 > MAX_REDIRECTS) throw new TypeError(`fetch failed: redirect count exceeded (${MAX_REDIRECTS})`);
    const next = new URL(location, url);
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new TypeError(`fetch failed: URL scheme must be a HTTP(S) scheme (a redirect to "${next.protocol}")`);
    if ((response.status === 303 && method !== "HEAD") || ((response.status === 301 || response.status === 302) && method === "POST")) {
      method = "GET";
      body = null;
      for (const name of BODY_HEADERS) headers.delete(name);
    } else if (body instanceof ReadableStream) {
      // A stream was read once; 307 and 308 must send the same body again.
      throw new TypeError(`fetch failed: cannot follow a redirect (${response.status}) with a streamed request body`);
    }
    if (next.origin !== url.origin) for (const name of CROSS_ORIGIN_DROPPED) headers.delete(name);
    url = next;
  }
}

/**
 * A Request's body as fetch sends it: its stream read here, whole up to the cap, so it goes out
 * with a Content-Length and can be sent again on a 307/308 (fetch keeps a Request's source). A
 * longer one (an upload built on a stream) is sent on as a stream, its start held here.
 */
async function requestBodyOf(request: Request): Promise<Body> {
  if (request.body === null) return null;
  const reader = request.body.getReader();
  const held: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(held, size);
    held.push(value);
    size += value.byteLength;
    if (size > MAX_HELD_REQUEST_BODY_BYTES) break;
  }
  return new ReadableStream<Uint8Array>({
    start: (controller) => held.forEach((chunk) => controller.enqueue(chunk)),
    pull: async (controller) => {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** The body as proxyFetch sends it, with the content type fetch would give it where none is set. */
async function bodyOf(body: RequestInit["body"] | null, headers: Headers): Promise<Body> {
  if (body === undefined || body === null) return null;
  if (typeof body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    return body;
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof ReadableStream) return body;
  // FormData, Blob, URLSearchParams: serialized (and typed: a form's boundary) as fetch would.
  const serialized = new Response(body as BodyInit);
  const type = serialized.headers.get("content-type");
  if (type !== null && !headers.has("content-type")) headers.set("content-type", type);
  return new Uint8Array(await serialized.arrayBuffer());
}

/** The response with the URL it came from, and whether a redirect led there, as fetch's has. */
function withUrl(response: Response, url: URL, redirected: boolean): Response {
  Object.defineProperty(response, "url", { value: url.href });
  Object.defineProperty(response, "redirected", { value: redirected });
  return response;
}
