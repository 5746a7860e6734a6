// A CONNECT tunnel through an HTTP forward proxy, for the runner's own node:http(s) clients (the
// Vault transport), which unlike Bun's fetch take no `proxy` option: the caller speaks TLS to the
// target over the socket this answers. node:http's CONNECT works alike on Bun, Node and Deno.

import { request } from "node:http";
import type { Socket } from "node:net";
import { EdgeError } from "../errors.ts";
import { maskProxyCredentials, type ProxyRoute } from "./proxy.ts";

/** Why a tunnel could not be opened: said naming the proxy, never its credentials. */
export class ProxyTunnelError extends EdgeError {
  constructor(message: string) {
    super("connection_failed", message, { retryable: true });
    this.name = "ProxyTunnelError";
  }
}

/**
 * Opens a tunnel to `host:port` through the proxy of `route` (with its Proxy-Authorization).
 * Rejects with a ProxyTunnelError when the proxy is unreachable or answers other than 2xx
 * (403: not allowed; 407: credentials missing or wrong), and when `signal` aborts.
 */
export function openProxyTunnel(route: ProxyRoute, host: string, port: number, signal: AbortSignal): Promise<Socket> {
  const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const proxy = `proxy "${route.shown}" (from ${route.variable})`;
  return new Promise<Socket>((resolve, reject) => {
    const headers: Record<string, string> = { host: authority };
    if (route.authorization !== undefined) headers["proxy-authorization"] = route.authorization;
    const req = request({ host: route.hostname, port: route.port, method: "CONNECT", path: authority, headers, signal });
    req.on("connect", (answer, socket) => {
      const status = answer.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        resolve(socket);
        return;
      }
      socket.destroy();
      const what = status === 407 ? "asks for credentials (407): set user:password in the proxy URL, or check them" : `answered ${status}${answer.statusMessage ? ` ${answer.statusMessage}` : ""}`;
      reject(new ProxyTunnelError(`Cannot open a tunnel to "${authority}" through ${proxy}: the proxy ${what}`));
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      const why = signal.aborted ? "no answer in time" : (error.code ?? maskProxyCredentials(error.message, route));
      reject(new ProxyTunnelError(`Cannot open a tunnel to "${authority}" through ${proxy}: ${why}`));
    });
    req.end();
  });
}
