// HTTP and WebSocket clients for talking to the controller: trusting an extra CA where one is
// configured, and going through the forward proxy src/platform/proxy.ts names for each URL.
// Each runtime takes both differently, so this is the only place that knows: Bun per request
// (`tls.ca`, `proxy`: its WebSocket, unlike its fetch, does not read HTTPS_PROXY itself), Deno
// through an HttpClient (its fetch and WebSocket read the proxy variables themselves), Node
// through NODE_EXTRA_CA_CERTS (its global fetch has no per-request CA, and no proxy) and the `ws`
// package's `ca` option.

import { ConfigError } from "../config/resolve.ts";
import { runtime } from "./runtime.ts";
import { openWebSocket } from "./websocket.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";
import { maskProxyCredentials, proxyFor, viaProxy, type ProxyEnv, type ProxyRoute } from "./proxy.ts";

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
  // Node's fetch and `ws` take no proxy without a dependency of their own: the runner warns at
  // start when one applies (nodeProxyWarning) and connects directly.
  if (caPem === undefined) return { fetch: (url, init) => fetch(url, init), openWebSocket: (url) => openWebSocket(url) };
  // Node reads NODE_EXTRA_CA_CERTS once, at start; a CA file it did not read would be ignored
  // silently, so insist on it rather than fail later with an opaque TLS error.
  if (env().NODE_EXTRA_CA_CERTS !== options.caFile) {
    throw new ConfigError(
      "caFile",
      `Cannot use "caFile" ("${options.caFile}") on Node without NODE_EXTRA_CA_CERTS: start the runner with NODE_EXTRA_CA_CERTS="${options.caFile}"`,
    );
  }
  return {
    fetch: (url, init) => fetch(url, init),
    openWebSocket: (url) => openWebSocket(url, { ca: caPem }),
  };
}

/**
 * The warning a runner on the Node bundle logs at start when a proxy variable applies to `url`:
 * its fetch and WebSocket connect directly, which in a network that allows only the proxy fails
 * with a plain connection error. Undefined elsewhere and when no proxy applies.
 */
export function nodeProxyWarning(url: string, env: ProxyEnv = process.env): string | undefined {
  if (runtime !== "node") return undefined;
  const route = proxyFor(url, env);
  if (route === undefined) return undefined;
  return `${route.variable} names proxy "${route.shown}", but the runner on Node connects to the controller, GCP, S3 and integrations directly (Vault calls do go through it): run the Bun executable or Deno behind a proxy (docs/operations.md, "Behind a proxy")`;
}

/** A fetch that went through a proxy fails naming the proxy, never its credentials; an abort stays an abort. */
async function namingProxy(route: ProxyRoute | undefined, response: Promise<Response>): Promise<Response> {
  if (route === undefined) return response;
  try {
    return await response;
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "AbortError" || name === "TimeoutError") throw error;
    // No `cause`: the runtime's error may quote the proxy URL with its credentials.
    throw new Error(maskProxyCredentials(errorMessage(error), route) + viaProxy(route));
  }
}

/** Reads the `caFile` option's PEM bundle, naming the field when it is missing or holds no certificate. */
export function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readConfigText(path);
  } catch (error) {
    throw new ConfigError("caFile", `Cannot read "caFile" "${path}": ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError("caFile", `Cannot use "caFile" "${path}": it holds no PEM certificate`);
  return pem;
}
