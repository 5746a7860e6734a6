// HTTP and WebSocket clients for talking to the controller, trusting an extra CA where one is
// configured. Each runtime takes a custom CA differently, so this is the only place that knows:
// Bun per request (`tls.ca`), Deno through an HttpClient, Node through NODE_EXTRA_CA_CERTS
// (its global fetch has no per-request CA) and the `ws` package's `ca` option.

import { ConfigError } from "../config/resolve.ts";
import { runtime } from "./runtime.ts";
import { openWebSocket } from "./websocket.ts";
import { errorMessage } from "../errors.ts";
import { readConfigText } from "../config/read-config-text.ts";

export interface ControllerClient {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  openWebSocket(url: string): WebSocket;
}

/** The runtime's own clients and trust store. */
export const defaultControllerClient: ControllerClient = {
  fetch: (url, init) => fetch(url, init),
  openWebSocket: (url) => openWebSocket(url),
};

export interface ControllerClientOptions {
  /** PEM bundle of extra trusted CAs (the `caFile` option's content). */
  caPem: string;
  /** The file it came from, for messages and for Node's NODE_EXTRA_CA_CERTS check. */
  caFile: string;
  env?: Readonly<Record<string, string | undefined>>;
}

export function controllerClient(options: ControllerClientOptions): ControllerClient {
  const { caPem } = options;
  if (runtime === "bun") {
    const Ws = globalThis.WebSocket as unknown as new (url: string, init: unknown) => WebSocket;
    return {
      fetch: (url, init) => fetch(url, { ...init, tls: { ca: caPem } } as RequestInit),
      openWebSocket: (url) => new Ws(url, { tls: { ca: caPem } }),
    };
  }
  if (runtime === "deno") {
    const deno = (globalThis as unknown as { Deno: { createHttpClient(o: { caCerts: string[] }): unknown } }).Deno;
    const client = deno.createHttpClient({ caCerts: [caPem] });
    const Ws = globalThis.WebSocket as unknown as new (url: string, init: unknown) => WebSocket;
    return {
      fetch: (url, init) => fetch(url, { ...init, client } as RequestInit),
      openWebSocket: (url) => new Ws(url, { client }),
    };
  }
  // Node reads NODE_EXTRA_CA_CERTS once, at start; a CA file it did not read would be ignored
  // silently, so insist on it rather than fail later with an opaque TLS error.
  const env = options.env ?? process.env;
  if (env.NODE_EXTRA_CA_CERTS !== options.caFile) {
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
