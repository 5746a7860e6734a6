// Where the runner sends a run's token: to the configured meshStack (controllerUrl) only. A claimed
// run names where to register, update and download its plan (`_links`); meshcloud's Kotlin runners
// call those links wherever they point, its Go runners build register and update from their own
// base URL (go-meshapi-client/meshapi/client.go) and follow only planArtifact. The rule here:
//
// - a link with the configured base URL's scheme and origin is called as it is;
// - a link elsewhere (another host or port, plain http) whose path holds meshStack's run API
//   (`/api/meshobjects/meshbuildingblockruns/…`) is called at the configured base URL with that
//   path: what the Go runners call, so a meshStack whose links name another public hostname than
//   the one the runner is configured with works as it does with them;
// - any other link fails the run, naming the link, and the token never goes there.

export const RUN_API_PATH = "/api/meshobjects/meshbuildingblockruns/";

/** Where the runner calls for a link, and whether that is not where the link points; or why it does not call it. */
export type LinkTarget = { url: string; retargeted: boolean } | { problem: string };

/** The configured base URL as the client holds it: no trailing slash. */
const trimmed = (baseUrl: string): string => baseUrl.replace(/\/+$/, "");

export function callTarget(href: string, baseUrl: string): LinkTarget {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return { problem: "is not a URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { problem: "is not an http(s) URL" };
  const base = new URL(baseUrl);
  if (url.origin === base.origin && url.username === "" && url.password === "") return { url: href, retargeted: false };
  // From the text, not url.pathname: that would percent-encode a template's "{sourceId}".
  const rest = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*([^#]*)/.exec(href)?.[1] ?? "";
  const at = rest.indexOf(RUN_API_PATH);
  if (at === -1) return { problem: `points at ${url.origin}, neither the configured meshStack (${base.origin}) nor meshStack's run API (${RUN_API_PATH}…): the run token is not sent there` };
  return { url: `${trimmed(baseUrl)}${rest.slice(at)}`, retargeted: true };
}

/** Register and update at the configured base URL, as meshcloud's Go runners build them: where a run whose links cannot be used is reported. */
export function builtLinks(uuid: string, baseUrl: string): { registerSource: string; updateSource: string } {
  const register = `${trimmed(baseUrl)}${RUN_API_PATH}${encodeURIComponent(uuid)}/status/source`;
  return { registerSource: register, updateSource: `${register}/{sourceId}` };
}
