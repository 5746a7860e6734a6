// The fetch for the runner's calls to systems other than its controller's edge API: GCP Secret
// Manager, the meshStack API, plugins' ctx.fetch, the http plugin, the GitHub, GitLab and Azure
// DevOps integrations, and `edge-runner update`'s downloads. Each goes through the forward proxy
// the rule (proxy.ts) names for its URL, on every runtime: Bun is given it per call (as the
// controller client does: its fetch would read the variables too, but by its own NO_PROXY
// reading), Deno's fetch reads the same variables itself, and Node's global fetch takes no proxy,
// so while one is set calls go out on node:http(s) (node-outbound-fetch.ts): https through
// CONNECT tunnels, plain http forwarded with its absolute URL, hosts NO_PROXY names direct.

import { runtime } from "./runtime.ts";
import { proxyConfigured, proxyFor, type ProxyEnv } from "./proxy.ts";
import { namingProxy } from "./proxy-failure.ts";
import type { NodeProxyAgents } from "./node-proxy-fetch.ts";

/** Node only: node:http(s) would cost a Bun start (docs/performance.md). */
const nodeOutbound = runtime === "node" ? { ...(await import("./node-proxy-fetch.ts")), ...(await import("./node-outbound-fetch.ts")) } : undefined;

export type OutboundFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** The proxy variables read from `env` at each call (process.env by default). */
export function outboundFetchWith(env?: ProxyEnv): OutboundFetch {
  const envNow = (): ProxyEnv => env ?? process.env;
  const routeOf = (input: string | URL | Request) => proxyFor(input instanceof Request ? input.url : input, envNow());
  // The global fetch is looked up at each call, not bound here: a test may stand in for it. Async:
  // a proxy variable a plugin set to a bad value rejects the call (ConfigError), never throws.
  if (runtime === "bun") {
    return async (input, init) => {
      const route = routeOf(input);
      if (route === undefined) return fetch(input, init);
      return namingProxy(route, fetch(input, { ...init, proxy: route.href } as RequestInit));
    };
  }
  if (runtime === "deno") return (input, init) => fetch(input, init);
  const node = nodeOutbound as NonNullable<typeof nodeOutbound>;
  let agents: NodeProxyAgents | undefined;
  return async (input, init) => {
    if (!proxyConfigured(envNow())) return fetch(input, init);
    agents ??= node.nodeProxyAgents(env);
    return namingProxy(routeOf(input), node.followingFetch(input, init ?? {}, agents));
  };
}

/** The proxy the process's environment names. */
export const outboundFetch: OutboundFetch = outboundFetchWith();
