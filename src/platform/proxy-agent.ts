// node:http(s) agents that open each connection through the forward proxy the rule names for
// its host (src/platform/proxy.ts), or directly where none applies: for clients that take an
// agent and no proxy option (the S3 SDK's request handler, `ws`). Both schemes tunnel with CONNECT
// (an agent cannot rewrite a request to the absolute-URI form); proxyFetch() sends plain-http
// targets absolute-form itself, on proxyForwardAgent(). Bun and Node both wait for an agent's
// createConnection() callback, so the tunnel may be opened asynchronously.

import { Agent as HttpAgent, type AgentOptions } from "node:http";
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from "node:https";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { isIP, type Socket } from "node:net";
import { openProxyTunnel, ProxyTunnelError } from "./proxy-tunnel.ts";
import { proxyFor, type ProxyEnv } from "./proxy.ts";

export interface ProxyAgentOptions {
  /** Where the proxy variables are read, at each new connection; process.env by default. */
  env?: ProxyEnv;
  /** A tunnel (and the TLS handshake inside it) not done within this fails the request. */
  connectTimeoutMs: number;
}

type Done = (error: Error | null, socket?: Duplex) => void;
interface ConnectOptions { host?: string | null; hostname?: string | null; port?: number | string | null }

function targetOf(options: ConnectOptions, defaultPort: number): { host: string; port: number } {
  const host = String(options.host ?? options.hostname ?? "localhost").replace(/^\[|\]$/g, "");
  return { host, port: options.port === undefined || options.port === null || options.port === "" ? defaultPort : Number(options.port) };
}

function authority(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** An https agent (with `ca`, keep-alive, ... as given) that tunnels to hosts a proxy applies to. */
export function proxyHttpsAgent(agentOptions: HttpsAgentOptions, proxy: ProxyAgentOptions): HttpsAgent {
  class ProxiedHttpsAgent extends HttpsAgent {
    override createConnection(options: ConnectionOptions & ConnectOptions, done: Done): Duplex | undefined {
      const { host, port } = targetOf(options, 443);
      const route = proxyFor(`https://${authority(host, port)}`, proxy.env ?? process.env);
      if (route === undefined) return super.createConnection(options, done) as Duplex | undefined;
      const deadline = Date.now() + proxy.connectTimeoutMs;
      openProxyTunnel(route, host, port, AbortSignal.timeout(proxy.connectTimeoutMs)).then(
        (socket: Socket) => {
          const secured = tlsConnect({ ...options, socket, ...(isIP(host) === 0 ? { servername: host } : {}) });
          // The handshake inside the tunnel is part of connecting: the budget left covers it, as
          // Node's fetch's connect timeout covers a direct handshake (no call waits on a mute target).
          const timer = setTimeout(() => {
            secured.destroy(new ProxyTunnelError(`Cannot open a TLS connection to "${authority(host, port)}" through proxy "${route.shown}" (from ${route.variable}): no TLS handshake in ${proxy.connectTimeoutMs / 1000} s`));
          }, Math.max(0, deadline - Date.now()));
          const disarm = () => clearTimeout(timer);
          secured.once("secureConnect", disarm);
          secured.once("close", disarm);
          done(null, secured);
        },
        (error: Error) => done(error),
      );
      return undefined;
    }
  }
  return new ProxiedHttpsAgent(agentOptions);
}

/** An http agent that tunnels to hosts a proxy applies to (CONNECT, then plain HTTP inside). */
export function proxyHttpAgent(agentOptions: AgentOptions, proxy: ProxyAgentOptions): HttpAgent {
  class ProxiedHttpAgent extends HttpAgent {
    override createConnection(options: ConnectOptions, done: Done): Duplex | undefined {
      const { host, port } = targetOf(options, 80);
      const route = proxyFor(`http://${authority(host, port)}`, proxy.env ?? process.env);
      if (route === undefined) return super.createConnection(options as never, done) as Duplex | undefined;
      openProxyTunnel(route, host, port, AbortSignal.timeout(proxy.connectTimeoutMs)).then((socket: Socket) => done(null, socket), (error: Error) => done(error));
      return undefined;
    }
  }
  return new ProxiedHttpAgent(agentOptions);
}

/**
 * Keep-alive connections to the proxies themselves, for requests sent to them absolute-form
 * (plain-http targets: a proxy that allows CONNECT to 443 only, Squid's default, forwards these).
 * A proxy not connected to within the connect timeout fails the request, as a tunnel does.
 */
export function proxyForwardAgent(agentOptions: AgentOptions, proxy: Pick<ProxyAgentOptions, "connectTimeoutMs">): HttpAgent {
  class ForwardAgent extends HttpAgent {
    override createConnection(options: ConnectOptions, done: Done): Duplex | undefined {
      const socket = super.createConnection(options as never, done) as Socket;
      const timer = setTimeout(() => {
        const { host, port } = targetOf(options, 80);
        socket.destroy(new ProxyTunnelError(`Cannot connect to the proxy at "${authority(host, port)}": no answer in time`));
      }, proxy.connectTimeoutMs);
      socket.once("connect", () => clearTimeout(timer));
      socket.once("close", () => clearTimeout(timer));
      return socket;
    }
  }
  return new ForwardAgent(agentOptions);
}
