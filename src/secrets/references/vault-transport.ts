// The HTTP client node-vault sends its calls through (its `request-promise` hook), in place of
// its own axios one: node:http/https with the runner's settings and nothing else. axios would
// follow a redirect and send X-Vault-Token to whatever host the Location names, read an answer
// of any size into memory, and take TLS leniency from VAULT_SKIP_VERIFY. Here a redirect is
// answered as what it is (a 3xx the backend refuses), an answer is cut off past `maxBytes`, and
// the whole call, body included, has one deadline. Where HTTPS_PROXY/HTTP_PROXY name a forward
// proxy for vaultAddr (src/platform/proxy.ts), an https call goes through a CONNECT tunnel and
// then TLS to Vault itself (vaultCaFile still decides trust); a plain-http one is sent to the
// proxy with its absolute URL. Through a proxy each call has a connection of its own, closed
// when the call ends (no keep-alive): a tunnel left open would hold a connection at the proxy.

import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { EdgeError } from "../../errors.ts";
import { proxyFor, type ProxyEnv, type ProxyRoute } from "../../platform/proxy.ts";
import { openProxyTunnel } from "../../platform/proxy-tunnel.ts";
import { nestsDeeperThan, STORED_JSON_BOUNDS } from "../../util/json-bounds.ts";

/** Vault's answers nest a few levels (data.data.FIELD); a field's value gets the rest of the runner's one JSON bound. */
export const MAX_VAULT_ANSWER_DEPTH = STORED_JSON_BOUNDS.maxDepth;

export interface VaultTransportOptions {
  /** PEM bundle trusted instead of the system roots (vaultCaFile). */
  caPem?: string;
  timeoutMs: number;
  maxBytes: number;
  /** Where the proxy variables are read, at each call; process.env by default. */
  env?: ProxyEnv;
}

/** The shape node-vault's request hook is called with (a subset of request-promise's). */
interface VaultRequest {
  method: string;
  uri: string;
  headers?: Record<string, string | undefined>;
  json?: unknown;
  /** Ends the call early (the job's cancel): passed by VaultBackend.read through node-vault's request options. */
  signal?: AbortSignal;
}

export interface VaultAnswer {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

export type VaultSend = (request: VaultRequest) => Promise<VaultAnswer>;

/** The object node-vault takes as `config["request-promise"]`; its defaults are ignored on purpose. */
export function vaultTransport(options: VaultTransportOptions): { defaults(ignored: unknown): VaultSend } {
  const send: VaultSend = (request) => sendOnce(request, options);
  return { defaults: () => send };
}

async function sendOnce(request: VaultRequest, options: VaultTransportOptions): Promise<VaultAnswer> {
  const url = new URL(request.uri);
  const tls = url.protocol === "https:";
  const body = request.json !== undefined && typeof request.json === "object" ? JSON.stringify(request.json) : undefined;
  const headers: Record<string, string> = { accept: "application/json" };
  for (const [name, value] of Object.entries(request.headers ?? {})) if (typeof value === "string") headers[name] = value;
  if (body !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  const { signal } = request;
  if (signal?.aborted) throw cancelled();
  const route = proxyFor(url, options.env ?? process.env);
  const startedAt = Date.now();
  // The tunnel is part of the call: it shares its deadline, and ends with it when it is cancelled.
  const deadlineSignal = AbortSignal.timeout(options.timeoutMs);
  let tunnel: Socket | undefined;
  try {
    tunnel = route !== undefined && tls ? await openProxyTunnel(route, hostOf(url), portOf(url), signal === undefined ? deadlineSignal : AbortSignal.any([deadlineSignal, signal])) : undefined;
  } catch (error) {
    throw signal?.aborted === true ? cancelled() : error;
  }
  if (signal?.aborted) {
    tunnel?.destroy();
    throw cancelled();
  }
  const timeoutMs = Math.max(1, options.timeoutMs - (Date.now() - startedAt));
  return new Promise<VaultAnswer>((resolve, reject) => {
    let req: ClientRequest;
    try {
      req = open(url, { method: request.method, headers }, { route, tunnel, caPem: options.caPem }, answered);
    } catch (error) {
      // Refused before any byte was sent (a header value Node will not write, a CA bundle Bun's
      // TLS will not load): the tunnel is already open at the proxy and ends here too.
      tunnel?.destroy();
      reject(error);
      return;
    }
    function answered(res: IncomingMessage): void {
      const chunks: Buffer[] = [];
      let received = 0;
      res.on("data", (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received > options.maxBytes) {
          req.destroy(new EdgeError("secret_corrupt", `Vault's answer is over ${options.maxBytes} bytes; refused`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => {
        settle();
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown;
        try {
          parsed = text === "" ? undefined : JSON.parse(text);
        } catch {
          // Not Vault's JSON (a proxy's page): nothing of it is shown.
          parsed = undefined;
        }
        // Bounded before anything walks it: a value nested 400,000 deep overflowed the stack
        // where the backend stringified it (a RangeError, code "internal", naming nothing).
        if (nestsDeeperThan(parsed, MAX_VAULT_ANSWER_DEPTH)) {
          reject(new EdgeError("secret_corrupt", `Vault's answer nests deeper than ${MAX_VAULT_ANSWER_DEPTH} levels; refused`));
          return;
        }
        resolve({ statusCode: res.statusCode ?? 0, body: parsed, request: { path: url.pathname } });
      });
      res.on("error", fail);
      res.on("close", release);
    }
    /** Through a proxy, the call's connection (and the tunnel under it) ends with the call, on every runtime. */
    function release(): void {
      if (route === undefined) return;
      req.socket?.destroy();
      tunnel?.destroy();
    }
    /** The call is over: no deadline, no cancel, no connection left. */
    function settle(): void {
      clearTimeout(deadline);
      signal?.removeEventListener("abort", abort);
      release();
    }
    function fail(error: unknown): void {
      settle();
      reject(error);
    }
    function abort(): void {
      req.destroy(cancelled());
    }
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: "ETIMEDOUT" })), timeoutMs);
    signal?.addEventListener("abort", abort, { once: true });
    req.on("error", fail);
    req.end(body);
  });
}

/** A call ended by its caller's signal: the job was cancelled or the runner stops (not Vault's fault). */
function cancelled(): EdgeError {
  return new EdgeError("job_cancelled", "the call was cancelled before Vault answered", { retryable: false });
}

interface Route {
  route: ProxyRoute | undefined;
  tunnel: Socket | undefined;
  caPem: string | undefined;
}

/** The request, direct, over the tunnel (https), or to the proxy with the absolute URL (http). */
function open(url: URL, base: RequestOptions, via: Route, onAnswer: (res: IncomingMessage) => void): ClientRequest {
  // Never lenient, whatever VAULT_SKIP_VERIFY or NODE_TLS_REJECT_UNAUTHORIZED say.
  const trust = { rejectUnauthorized: true, ...(via.caPem === undefined ? {} : { ca: via.caPem }) };
  if (url.protocol === "https:") {
    const { tunnel } = via;
    if (tunnel === undefined) return httpsRequest(url, { ...base, ...trust }, onAnswer);
    // An agent's createConnection is the one both runtimes call: a request's own `createConnection`
    // is ignored under `agent: false` by Node and Bun alike, which then connect to Vault directly.
    return httpsRequest(url, { ...base, agent: tunnelAgent(tunnel, hostOf(url), trust) }, onAnswer);
  }
  const { route } = via;
  if (route === undefined) return httpRequest(url, base, onAnswer);
  const headers = { ...(base.headers as Record<string, string>), host: url.host, ...(route.authorization === undefined ? {} : { "proxy-authorization": route.authorization }) };
  // agent: false: a connection of its own, closed after the answer, not one the global agent
  // (Node 20's and Bun's keep alive) leaves idle at the proxy.
  return httpRequest({ ...base, agent: false, host: route.hostname, port: route.port, path: url.href, headers }, onAnswer);
}

/** A one-call agent whose only connection is TLS to Vault (`host`) inside the opened tunnel. */
function tunnelAgent(tunnel: Socket, host: string, trust: ConnectionOptions): HttpsAgent {
  class TunnelAgent extends HttpsAgent {
    override createConnection(): Socket {
      return tlsConnect({ ...trust, socket: tunnel, host, ...(isIP(host) === 0 ? { servername: host } : {}) });
    }
  }
  return new TunnelAgent({ keepAlive: false, maxSockets: 1 });
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
}

function portOf(url: URL): number {
  return url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
}
