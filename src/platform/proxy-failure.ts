// How a call that went through a forward proxy fails: naming the proxy, never its credentials (a
// runtime's error may quote the proxy URL it was given). Shared by the controller client and the
// outbound fetch, so both say it alike.

import { errorMessage } from "../errors.ts";
import { maskProxyCredentials, viaProxy, type ProxyRoute } from "./proxy.ts";

/** `response`, or its failure said naming the proxy of `route`; an abort stays an abort. */
export async function namingProxy(route: ProxyRoute | undefined, response: Promise<Response>): Promise<Response> {
  if (route === undefined) return response;
  try {
    return await response;
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "AbortError" || name === "TimeoutError") throw error;
    // A tunnel the proxy refused (Node's agents) already says so, naming the proxy.
    if (name === "ProxyTunnelError") throw error;
    // No `cause`: the runtime's error may quote the proxy URL with its credentials. A TypeError
    // stays one: fetch fails with TypeError, and callers may tell it so.
    const Class = error instanceof TypeError ? TypeError : Error;
    throw new Class(maskProxyCredentials(errorMessage(error), route) + viaProxy(route));
  }
}
