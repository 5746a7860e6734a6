// Which HTTP forward proxy a URL goes through: the one rule every outbound client of the runner
// asks (docs/operations.md, "Behind a proxy"). It reads https_proxy/HTTPS_PROXY for https: and
// wss: URLs, http_proxy/HTTP_PROXY for http: and ws: ones, and no_proxy/NO_PROXY; the lower-case
// form wins, as curl has it. A proxy's user:password is a credential: the route carries it for
// the Proxy-Authorization header and shows the proxy without it everywhere else.

import { ConfigError } from "../config/resolve.ts";
import { isIpLiteral } from "./host-guard.ts";

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

export interface ProxyRoute {
  /** The proxy's URL as configured, credentials included: for the client only, never shown. */
  href: string;
  hostname: string;
  port: number;
  /** `http://host:port`: the proxy as messages and logs name it. */
  shown: string;
  /** The variable it came from (`https_proxy`, `HTTPS_PROXY`, ...), for messages. */
  variable: string;
  /** `Basic base64(user:password)` when the proxy URL has a user, else undefined. */
  authorization: string | undefined;
  /** The user:password pair and its parts, for masking them out of a message. */
  secrets: readonly string[];
}

const BY_SCHEME: Readonly<Record<string, readonly [string, string]>> = {
  "https:": ["https_proxy", "HTTPS_PROXY"],
  "wss:": ["https_proxy", "HTTPS_PROXY"],
  "http:": ["http_proxy", "HTTP_PROXY"],
  "ws:": ["http_proxy", "HTTP_PROXY"],
};

/** The variables that name a proxy, both spellings, as curl and Go read them. */
const PROXY_URL_VARIABLES = ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"] as const;

/** A proxy URL is a host and a port, a user and password at most: longer is not one. */
const MAX_PROXY_URL_CHARS = 2048;
/** NO_PROXY lists are a few dozen entries; a longer one is refused at start (checkProxyEnv). */
const MAX_NO_PROXY_CHARS = 16_384;

/** The route for `target`, or undefined when it goes direct (no proxy set, or NO_PROXY names it). */
export function proxyFor(target: string | URL, env: ProxyEnv = process.env): ProxyRoute | undefined {
  const url = typeof target === "string" ? new URL(target) : target;
  const names = BY_SCHEME[url.protocol];
  if (names === undefined) return undefined;
  const variable = names.find((name) => (env[name] ?? "") !== "");
  if (variable === undefined) return undefined;
  if (bypassed(url, env)) return undefined;
  return parseProxyUrl(variable, env[variable] ?? "");
}

/** True when some URL may go through a proxy: one is set, and NO_PROXY has no `*` entry. */
export function proxyConfigured(env: ProxyEnv = process.env): boolean {
  // Decided from the variables, not by asking about a made-up host: NO_PROXY may name any host.
  return PROXY_URL_VARIABLES.some((name) => (env[name] ?? "") !== "") && !noProxyEntries(env).includes("*");
}

/** Every proxy variable that is set, checked: a bad one is a config error naming the variable, before any network call. */
export function checkProxyEnv(env: ProxyEnv = process.env): void {
  for (const name of PROXY_URL_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== "") parseProxyUrl(name, value);
  }
  // Bun's and Deno's own fetch read the whole list: a rule that read less would disagree with them.
  for (const name of ["no_proxy", "NO_PROXY"]) {
    const length = env[name]?.length ?? 0;
    if (length > MAX_NO_PROXY_CHARS) throw new ConfigError(name, `Cannot use ${name}: it is ${length} characters (at most ${MAX_NO_PROXY_CHARS})`);
  }
}

/**
 * The proxy variables that are set, for the programs a job starts (shell, terraform): they are
 * in the runner's network, so they need its way out. The job's own `env` overrides them.
 */
export function proxyVariables(env: ProxyEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...PROXY_URL_VARIABLES, "no_proxy", "NO_PROXY"]) {
    const value = env[name];
    if (value !== undefined && value !== "") out[name] = value;
  }
  return out;
}

/** The credentials in every proxy variable that is set (password, user:password): for the redactor. */
export function proxySecrets(env: ProxyEnv = process.env): string[] {
  const found: string[] = [];
  for (const name of PROXY_URL_VARIABLES) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const route = parseProxyUrl(name, value);
    if (route.authorization === undefined) continue;
    const url = new URL(route.href);
    const password = safeDecode(url.password);
    found.push(password, `${safeDecode(url.username)}:${password}`);
  }
  return found.filter((s) => s.length > 0);
}

/** `text` with the route's credentials masked: a runtime's error may quote the proxy URL it was given. */
export function maskProxyCredentials(text: string, route: ProxyRoute | undefined): string {
  if (route === undefined) return text;
  let masked = text.split(route.href).join(route.shown);
  for (const secret of route.secrets) if (secret !== "") masked = masked.split(secret).join("***");
  return masked;
}

/** ` (through proxy "http://host:port" from HTTPS_PROXY)`, or "" when the URL goes direct. */
export function viaProxy(route: ProxyRoute | undefined): string {
  return route === undefined ? "" : ` (through proxy "${route.shown}" from ${route.variable})`;
}

function parseProxyUrl(variable: string, raw: string): ProxyRoute {
  const value = raw.trim();
  if (value.length > MAX_PROXY_URL_CHARS) throw new ConfigError(variable, `Cannot use ${variable}: it is ${value.length} characters (at most ${MAX_PROXY_URL_CHARS})`);
  // curl and most clients take `host:port` as http://host:port.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(variable, `Cannot use ${variable}: it is not a URL (expected http://host:port)`);
  }
  const shown = `${url.protocol}//${url.host}`;
  if (url.protocol !== "http:") {
    throw new ConfigError(variable, `Cannot use ${variable} "${shown}": only an http:// forward proxy is supported (https:// tunnels through it with CONNECT)`);
  }
  const user = safeDecode(url.username);
  const password = safeDecode(url.password);
  const pair = `${user}:${password}`;
  return {
    href: url.href,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 80 : Number(url.port),
    shown,
    variable,
    authorization: user === "" && password === "" ? undefined : `Basic ${Buffer.from(pair).toString("base64")}`,
    secrets: user === "" && password === "" ? [] : [url.username + ":" + url.password, pair, password, url.password, Buffer.from(pair).toString("base64")].filter((s) => s.length >= 4),
  };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * NO_PROXY as curl (7.86 on) and Go read it: comma- or space-separated entries; `*` alone means
 * every host; `example.com`, `.example.com` and `*.example.com` match that host and every host
 * under it; an entry with `:port` matches that port only; an IP matches that address and a CIDR
 * (10.0.0.0/8, fd00::/8) the addresses in it. Hosts compare case-insensitively, without a
 * trailing dot. There is no implicit entry: loopback goes through the proxy unless listed.
 */
function bypassed(url: URL, env: ProxyEnv): boolean {
  const entries = noProxyEntries(env);
  if (entries.length === 0) return false;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" || url.protocol === "wss:" ? 443 : 80;
  const hostIp = ipFamily(host);
  for (let entry of entries) {
    if (entry === "*") return true;
    let entryPort: number | undefined;
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (withPort !== null) {
      entry = withPort[1] ?? entry;
      entryPort = Number(withPort[2]);
    }
    entry = entry.replace(/^\[|\]$/g, "").replace(/\.$/, "");
    if (entryPort !== undefined && entryPort !== port) continue;
    if (hostIp !== 0) {
      if (entry === host || inCidr(host, hostIp, entry)) return true;
      continue;
    }
    const domain = entry.replace(/^\*?\./, "");
    if (domain !== "" && (host === domain || host.endsWith(`.${domain}`))) return true;
  }
  return false;
}

/** NO_PROXY's entries, lower case (the lower-case variable wins). */
function noProxyEntries(env: ProxyEnv): string[] {
  return boundedNoProxy(env.no_proxy || env.NO_PROXY || "")
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== "");
}

/**
 * checkProxyEnv() refuses a longer list at start; read later (a plugin's own environment), one is
 * cut after its last whole entry: a cut inside one would widen it (`10.0.0.0/16` to `10.0.0.0/1`).
 */
function boundedNoProxy(list: string): string {
  if (list.length <= MAX_NO_PROXY_CHARS) return list;
  const head = list.slice(0, MAX_NO_PROXY_CHARS + 1);
  return head.slice(0, Math.max(head.lastIndexOf(","), head.search(/\s\S*$/), 0));
}

/** 4, 6, or 0 for a name. Not node:net: it is not loaded at start (docs/performance.md). */
function ipFamily(name: string): 0 | 4 | 6 {
  if (!isIpLiteral(name)) return 0;
  return name.includes(":") ? 6 : 4;
}

function inCidr(address: string, family: number, entry: string): boolean {
  const slash = entry.indexOf("/");
  if (slash < 0) return false;
  const network = entry.slice(0, slash);
  // Digits only: Number("") is 0, so `10.0.0.0/` would have matched every address (and `0x8` 8).
  const length = entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(length)) return false;
  const bits = Number(length);
  const width = family === 4 ? 32 : 128;
  if (ipFamily(network) !== family || !Number.isInteger(bits) || bits < 0 || bits > width) return false;
  const toBits = family === 4 ? ipv4Bits : ipv6Bits;
  const shift = BigInt(width - bits);
  return toBits(address) >> shift === toBits(network) >> shift;
}

function ipv4Bits(address: string): bigint {
  return address.split(".").reduce((sum, octet) => (sum << 8n) + BigInt(Number(octet)), 0n);
}

/** The address as 128 bits: the URL parser's canonical form (hex groups, one `::`), expanded. */
function ipv6Bits(address: string): bigint {
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = "", tail] = canonical.split("::");
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const front = groupsOf(head);
  const back = tail === undefined ? [] : groupsOf(tail);
  const groups = [...front, ...Array<string>(8 - front.length - back.length).fill("0"), ...back];
  return groups.reduce((sum, group) => (sum << 16n) + BigInt(Number.parseInt(group, 16)), 0n);
}
