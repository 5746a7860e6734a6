// fetch() for the runner's calls that go through a forward proxy, on Node: Node 20's global
// fetch takes no proxy without undici as a dependency, so where the rule names one these calls
// go out on node:http(s): https through the CONNECT tunnel agents of proxy-agent.ts (the agents
// `ws` takes for the WebSocket too), plain http sent to the proxy absolute-form (the full URL as
// the request target, as Bun and Deno send it: Squid's default refuses CONNECT to ports but 443). One exchange: a string, bytes or a stream as the body, the
// answer as a streamed Response that each caller reads through its own cap. It asks for no
// content coding (a gzip, deflate or br answer to a caller that asked for one is decoded as fetch
// decodes it: node-content-decoding.ts), and follows no redirect: the controller client needs none (the edge API answers
// none), node-outbound-fetch.ts follows them for the other calls. Imported on Node only: it
// loads node:http, https, net, tls and zlib.

import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import { Readable, pipeline } from "node:stream";
import { contentDecoders } from "./node-content-decoding.ts";
import { proxyForwardAgent, proxyHttpAgent, proxyHttpsAgent } from "./proxy-agent.ts";
import { proxyFor, type ProxyEnv, type ProxyRoute } from "./proxy.ts";

export interface NodeProxyAgents {
  /** CONNECT tunnels for ws:// (proxyFetch sends plain http on `forward`). */
  http: HttpAgent;
  https: HttpsAgent;
  /** Connections to the proxies, for plain-http requests sent to them absolute-form. */
  forward: HttpAgent;
  /** Where the rule reads the proxy variables; process.env when undefined. */
  env: ProxyEnv | undefined;
}

/** A tunnel not opened in this fails the call: Node's fetch gives a direct connection as long. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A socket silent this long (no answer, or a stalled body) fails the call: undici's, so Node's fetch's, headers and body timeouts. */
export const IDLE_TIMEOUT_MS = 300_000;

/** Keep-alive agents that tunnel to every host the rule names a proxy for (read from `env` per connection). */
export function nodeProxyAgents(env: ProxyEnv | undefined): NodeProxyAgents {
  const proxy = { connectTimeoutMs: CONNECT_TIMEOUT_MS, ...(env === undefined ? {} : { env }) };
  return { http: proxyHttpAgent({ keepAlive: true }, proxy), https: proxyHttpsAgent({ keepAlive: true }, proxy), forward: proxyForwardAgent({ keepAlive: true }, proxy), env };
}

/**
 * `fetch(url, init)` on node:http(s) with `agents`. Rejects with `init.signal`'s reason when it
 * aborts, before or after the answer (the body then fails with it too); a socket silent for
 * `idleTimeoutMs` fails the call.
 */
export function proxyFetch(url: string, init: RequestInit, agents: NodeProxyAgents, idleTimeoutMs = IDLE_TIMEOUT_MS): Promise<Response> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  if (!secure && target.protocol !== "http:") return Promise.reject(new TypeError(`Cannot fetch "${target.protocol}" URLs through the proxy (expected http: or https:)`));
  // fetch refuses these (and a redirect to one): never turned into Basic auth or kept in response.url.
  if (target.username !== "" || target.password !== "") {
    return Promise.reject(new TypeError(`Cannot fetch "${target.protocol}//${target.host}${target.pathname}": the URL includes credentials (fetch refuses them)`));
  }
  const method = (init.method ?? "GET").toUpperCase();
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const headers: OutgoingHttpHeaders = { "accept-encoding": "identity" };
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  return new Promise<Response>((resolve, reject) => {
    let answer: IncomingMessage | undefined;
    const onAbort = () => {
      req.destroy(signal?.reason);
      answer?.destroy(signal?.reason);
      reject(signal?.reason);
    };
    const settle = () => signal?.removeEventListener("abort", onAbort);
    const route = secure ? undefined : proxyFor(target, agents.env ?? process.env);
    const req = route !== undefined ? forwarded(target, route, method, headers, agents.forward) : (secure ? httpsRequest : httpRequest)(target, { method, headers, agent: secure ? agents.https : agents.http });
    signal?.addEventListener("abort", onAbort, { once: true });
    req.setTimeout(idleTimeoutMs, () => {
      const error = new Error(`no answer from "${target.host}" for ${idleTimeoutMs / 1000} s`);
      req.destroy(error);
      answer?.destroy(error);
    });
    req.on("error", (error) => {
      settle();
      reject(error);
    });
    req.on("response", (incoming: IncomingMessage) => {
      answer = incoming;
      incoming.on("close", settle);
      try {
        resolve(responseOf(incoming, method));
      } catch (error) {
        incoming.destroy();
        reject(error);
      }
    });
    sendBody(req, init.body);
  });
}

/** A plain-http request sent to the proxy of `route` with the full URL as its target. */
function forwarded(target: URL, route: ProxyRoute, method: string, headers: OutgoingHttpHeaders, agent: HttpAgent): ReturnType<typeof httpRequest> {
  const absolute = new URL(target);
  absolute.hash = "";
  const sent: OutgoingHttpHeaders = { host: target.host, ...headers };
  if (route.authorization !== undefined) sent["proxy-authorization"] = route.authorization;
  return httpRequest({ host: route.hostname, port: route.port, method, path: absolute.href, headers: sent, agent });
}

function sendBody(req: ReturnType<typeof httpRequest>, body: RequestInit["body"]): void {
  if (body === undefined || body === null) req.end();
  else if (typeof body === "string") req.end(body);
  else if (body instanceof ArrayBuffer) req.end(Buffer.from(body));
  else if (ArrayBuffer.isView(body)) req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  else if (body instanceof ReadableStream) {
    // Streamed as it is read (an artifact): never held whole.
    pipeline(Readable.fromWeb(body as unknown as import("node:stream/web").ReadableStream), req, (error) => {
      if (error) req.destroy(error);
    });
  } else req.destroy(new TypeError("Cannot send this request body through the proxy on Node (expected a string, bytes or a ReadableStream)"));
}

/** The answer as a fetch Response, its body streamed (not read here: each caller caps it). */
function responseOf(incoming: IncomingMessage, method: string): Response {
  const status = incoming.statusCode ?? 0;
  if (status < 200 || status > 599) throw new Error(`the answer's status ${status} is not an HTTP status fetch takes (200 to 599)`);
  const headers = new Headers();
  const raw = incoming.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const init = { status, statusText: incoming.statusMessage ?? "", headers };
  if (method === "HEAD" || status === 204 || status === 205 || status === 304) {
    incoming.resume();
    return new Response(null, init);
  }
  const decoders = contentDecoders(incoming.headers["content-encoding"]);
  const last = decoders.at(-1);
  if (last === undefined) return new Response(byteStreamOf(incoming), init);
  // An abort or idle timeout destroys `incoming`, and the pipeline the decoders with it.
  pipeline([incoming, ...decoders], () => undefined);
  return new Response(byteStreamOf(last), init);
}

/** How much of an answer is read ahead of the caller (a byte stream's default is none). */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * `source` as a byte stream, as fetch's body is one (a BYOB reader works on it), read ahead as far
 * as READ_AHEAD_BYTES: Readable.toWeb() makes a default stream.
 */
function byteStreamOf(source: Readable): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream({
    type: "bytes",
    start(controller) {
      const fail = (error: unknown) => {
        if (!open) return;
        open = false;
        controller.error(error);
      };
      source.on("data", (chunk: Buffer) => {
        if (!open) return;
        // A copy: enqueue() takes over the chunk's ArrayBuffer, which a Buffer may share with others.
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      source.once("end", () => {
        if (!open) return;
        open = false;
        controller.close();
        // A BYOB read waiting when the stream closes is answered only by respond(0).
        controller.byobRequest?.respond(0);
      });
      source.once("error", fail);
      source.once("close", () => fail(new Error("the connection closed before the answer's end")));
      source.pause();
    },
    pull() {
      source.resume();
    },
    cancel(reason) {
      open = false;
      source.destroy(reason instanceof Error ? reason : undefined);
    },
  }, { highWaterMark: READ_AHEAD_BYTES });
}
