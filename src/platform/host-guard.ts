// DNS rebinding defence for local HTTP endpoints: a web page the operator visits can point its own
// name at 127.0.0.1 and read whatever answers there, but the browser still sends that name in
// `Host`. So a local endpoint answers only Host names it knows: loopback names, IP literals
// (a rebinding needs a DNS name; an IP origin is the endpoint's own origin) and configured hosts.
// Anything else gets 421 Misdirected Request before any handler runs.

import type { MiddlewareHandler } from "hono";

export interface HostGuardOptions {
  /** Extra names to answer (the bind address and `allowedHosts` from config), without ports. */
  hosts?: readonly string[];
}

const LOOPBACK_NAMES = new Set(["localhost", "localhost."]);

const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)){3}$/;

/**
 * Whether `name` is an IPv4 or IPv6 address literal: what node:net's isIP() accepts, less IPv6
 * zone ids (`fe80::1%eth0`, which no browser sends in a Host header). Not node:net itself: it
 * is loaded only for this, and cost every runner start ~6 ms of CPU (docs/performance.md).
 */
export function isIpLiteral(name: string): boolean {
  if (IPV4.test(name)) return true;
  if (!name.includes(":") || /[^0-9a-fA-F:.]/.test(name)) return false;
  try {
    // The URL parser validates IPv6 literals exactly (RFC 4291 text forms, embedded IPv4 included).
    new URL(`http://[${name}]/`);
    return true;
  } catch {
    return false;
  }
}

/** The host name of a `Host` header value, lower-cased, without port or IPv6 brackets. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]") === -1 ? undefined : value.indexOf("]"));
  const colon = value.indexOf(":");
  return colon === -1 ? value : value.slice(0, colon);
}

/** True when a request naming `host` may be answered. */
export function isAllowedHost(host: string, extra: ReadonlySet<string>): boolean {
  const name = hostName(host);
  if (name === "") return false;
  if (LOOPBACK_NAMES.has(name) || name.endsWith(".localhost") || isIpLiteral(name)) return true;
  return extra.has(name);
}

export function hostGuard(options: HostGuardOptions = {}): MiddlewareHandler {
  const extra = new Set((options.hosts ?? []).map(hostName).filter((h) => h !== ""));
  return async function checkHostHeader(c, next) {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!isAllowedHost(host, extra)) {
      const shown = host.length > 100 ? host.slice(0, 100) + "…" : host;
      return c.json({ error: { code: "host_not_allowed", message: `Refusing Host "${shown}": this endpoint answers loopback names, IP addresses and its configured allowedHosts only` } }, 421);
    }
    await next();
  };
}
