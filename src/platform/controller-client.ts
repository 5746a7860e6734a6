// HTTP and WebSocket clients for talking to the controller: trusting an extra CA where one is
// configured, and going through the forward proxy src/platform/proxy.ts names for each URL.
// Each runtime takes both differently, so this is the only place that knows: Bun per request
// (`tls.ca`, `proxy`: its WebSocket, unlike its fetch, does not read HTTPS_PROXY itself), Deno
// through an HttpClient (its fetch and WebSocket read the proxy variables themselves), Node
// through NODE_EXTRA_CA_CERTS (its global fetch has no per-request CA, and no proxy) and the `ws`
// package's `ca` option; where a proxy applies on Node, calls go out on node:http(s)
// (node-proxy-fetch.ts: https tunnelled, plain http forwarded), and `ws` takes its tunnel agents.

import { ConfigError } from "../config/resolve.ts";
import { runtime } from "./runtime.ts";
import { openWebSocket } from "./websocket.ts";
import { proxyFor, viaProxy, type ProxyEnv, type ProxyRoute } from "./proxy.ts";
import { namingProxy } from "./proxy-failure.ts";
import type { NodeProxyAgents } from "./node-proxy-fetch.ts";

/** Node only, beside `ws` (websocket.ts): node:http(s) would cost a Bun start (docs/performance.md). */
const nodeProxy = runtime === "node" ? await import("./node-proxy-fetch.ts") : undefined;

export interface ControllerClient {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  openWebSocket(url: string): WebSocket;
  /** ` (through proxy "http://host:port" from HTTPS_PROXY)` when `url` goes through one, else "": for messages. */
  via?(url: string): string;
}

export interface ControllerClientOptions {
  /** PEM bundle of extra trusted CAs (the `caFile` option's content). */
  caPem?: string;
  /** The file it came from, for messages and for Node's NODE_EXTRA_CA_CERTS check. */
  caFile?: string;
  /** Where the proxy variables and NODE_EXTRA_CA_CERTS are read, at each call; process.env by default. */
  env?: ProxyEnv;
}

/** The runtime's own trust store, and the proxy the environment names. */
export const defaultControllerClient: ControllerClient = controllerClient({});

export function controllerClient(options: ControllerClientOptions): ControllerClient {
  const { caPem } = options;
  const env = (): ProxyEnv => options.env ?? process.env;
  const routeOf = (url: string): ProxyRoute | undefined => proxyFor(url, env());
  const via = (url: string): string => viaProxy(routeOf(url));
  if (runtime === "bun") {
    const Ws = globalThis.WebSocket as unknown as new (url: string, init: unknown) => WebSocket;
    const tls = caPem === undefined ? {} : { tls: { ca: caPem } };
    return {
      fetch: (url, init) => {
        const route = routeOf(url);
        // Bun's fetch also reads the process's variables itself (NO_PROXY included, with the same
        // entries: suffixes, ports, CIDR, *) and cannot be told "direct": the rule names the
        // proxy explicitly, so an injected env and the error message agree with it.
        const bunInit = { ...init, ...tls, ...(route === undefined ? {} : { proxy: route.href }) };
        return namingProxy(route, fetch(url, bunInit as RequestInit));
      },
      openWebSocket: (url) => {
        const route = routeOf(url);
        return new Ws(url, { ...tls, ...(route === undefined ? {} : { proxy: route.href }) });
      },
      via,
    };
  }
  if (runtime === "deno") {
    // Deno's fetch and WebSocket go through the proxy the variables name by themselves (by its
    // own NO_PROXY reading), also with an HttpClient of our own (docs/operations.md).
    const deno = (globalThis as unknown as { Deno: { createHttpClient(o: { caCerts: string[] }): unknown } }).Deno;
    if (caPem === undefined) return { fetch: (url, init) => fetch(url, init), openWebSocket: (url) => openWebSocket(url), via };
    const client = deno.createHttpClient({ caCerts: [caPem] });
    const Ws = globalThis.WebSocket as unknown as new (url: string, init: unknown) => WebSocket;
    return {
      fetch: (url, init) => fetch(url, { ...init, client } as RequestInit),
      openWebSocket: (url) => new Ws(url, { client }),
      via,
    };
  }
  // Node reads NODE_EXTRA_CA_CERTS once, at start; a CA file it did not read would be ignored
  // silently, so insist on it rather than fail later with an opaque TLS error.
  if (caPem !== undefined && env().NODE_EXTRA_CA_CERTS !== options.caFile) {
    throw new ConfigError(
      "caFile",
      `Cannot use "caFile" ("${options.caFile}") on Node without NODE_EXTRA_CA_CERTS: start the runner with NODE_EXTRA_CA_CERTS="${options.caFile}"`,
    );
  }
  // Node's fetch and `ws` take no proxy option: where the rule names one, the call goes out on
  // node:http(s) through tunnel agents (made at the first such call), and `ws` is given them.
  const proxied = nodeProxy as NonNullable<typeof nodeProxy>;
  let agents: NodeProxyAgents | undefined;
  const agentsOf = (): NodeProxyAgents => (agents ??= proxied.nodeProxyAgents(options.env));
  const ca = caPem === undefined ? {} : { ca: caPem };
  return {
    fetch: (url, init) => {
      const route = routeOf(url);
      if (route === undefined) return fetch(url, init);
      return namingProxy(route, proxied.proxyFetch(url, init ?? {}, agentsOf()));
    },
    openWebSocket: (url) => {
      if (routeOf(url) === undefined) return openWebSocket(url, ca);
      const { http, https } = agentsOf();
      return openWebSocket(url, { ...ca, agent: url.startsWith("wss:") ? https : http });
    },
    via,
  };
}
