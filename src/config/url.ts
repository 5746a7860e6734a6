// URLs are parsed once, here, and only their normalized form travels on. Comparing the raw text
// let `HTTP://host`, `Http://host` and " http://host" past the plain-http rule and sent the API
// key (or the admin token) in clear; the WHATWG parser lower-cases the scheme and trims spaces.

/** `localhost`, 127.0.0.0/8 and `[::1]`, as the WHATWG parser spells them. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname.toLowerCase());
}

/** The normalized form of an absolute http(s) URL without its trailing slashes, or undefined. */
export function normalizeHttpUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return url.href.replace(/\/+$/, "");
}

/**
 * Why a normalized URL of a service that receives credentials (the controller, Vault) may not be
 * used, or undefined when it may: plain http only to loopback or with `insecure`.
 */
export function plainHttpRefusal(normalized: string, insecure: boolean, what = "controller"): string | undefined {
  const url = new URL(normalized);
  if (url.protocol !== "http:" || insecure || isLoopbackHost(url.hostname)) return undefined;
  return `Refusing plain http ${what} URL "${publicUrl(normalized)}": use https://, a loopback address, or --insecure`;
}

/** Drops user:password, query and fragment: a URL may carry a token in any of them. */
export function publicUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.href.replace(/\/+$/, "");
  } catch {
    return "(invalid URL)";
  }
}

/** `text` with every URL in it shown as publicUrl() shows it: messages may quote a URL with a token in it. */
export function scrubUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => publicUrl(url));
}

/** `allowedHosts` as a list: comma-separated, trimmed, empty entries dropped. */
export function hostList(value: string | undefined): string[] {
  return (value ?? "").split(",").map((h) => h.trim()).filter((h) => h !== "");
}

/** The warning a runner started with --insecure logs at start and on every (re)connect. */
export function insecureWarning(controllerUrl: string): string {
  const plain = new URL(controllerUrl).protocol === "http:";
  return plain
    ? `Insecure: --insecure is set and the controller "${publicUrl(controllerUrl)}" is plain http: the API key, job inputs and results cross the network unencrypted. Never in production`
    : `Insecure: --insecure is set: plain http/ws to a non-loopback controller would be allowed. Never in production`;
}

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/**
 * Drops `user:pass@` from every URL inside free text (an error a runtime wrote around a URL, such
 * as Deno's "error sending request for url (…)"): the logger's last line of defence. A URL the
 * code itself shows goes through publicUrl(), which also drops the query.
 */
export function stripUrlCredentials(text: string): string {
  return text.includes("@") ? text.replace(USERINFO, "$1") : text;
}

/**
 * A base URL that may change while the process runs: the runner's current controller, which moves
 * to the next of its `controllerUrl` list on a failover. Read it at each call, never keep it.
 */
export type UrlSource = string | (() => string);

export function urlOf(source: UrlSource): string {
  return typeof source === "string" ? source : source();
}
