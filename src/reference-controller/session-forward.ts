// One bounded reverse-proxy hop for long-poll calls (send, receive, DELETE) of a session another
// replica holds (PostgreSQL only): a load balancer without affinity may send a runner's calls to
// any replica. The target is only ever the owner's advertised URL as it registered it in
// `edge_sessions`; the presented token must match that row's hash before anything is sent; a
// forwarded request carries FORWARDED_HEADER and is never forwarded again (no loops). Those rules
// are `sessionOwner`, which the WebSocket relay (session-relay.ts) applies too.

import type { Context } from "hono";
import { EdgeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { normalizeHttpUrl, publicUrl } from "../config/url.ts";
import { readLimited } from "../util/read-limited.ts";
import { errorFromException, errorResponse, MAX_BODY_BYTES } from "./http-helpers.ts";
import type { SessionDirectory } from "./session-directory.ts";
import type { SessionRow } from "./store-seam.ts";
import { bearerToken, matchesHash } from "./tokens.ts";

/** Set on a forwarded request (value: the forwarding replica's id). */
export const FORWARDED_HEADER = "x-edge-runner-forwarded";
/** A send or DELETE answers at once; a receive is held up to `pollWaitMs`, plus this margin. */
export const FORWARD_MARGIN_MS = 10_000;

/**
 * Where a request for session `id`, which this replica does not hold, goes: nowhere (answer 404
 * here: it was forwarded already, no live row says another replica holds it, or that row's URL is
 * not http(s)); "unauthorized" when `token` is not that session's (checked before any hop); else
 * the owner's row and its normalized advertised URL.
 */
export async function sessionOwner(
  directory: SessionDirectory,
  c: Context,
  id: string,
  token: string | undefined,
): Promise<{ row: SessionRow; base: string } | "unauthorized" | undefined> {
  if (c.req.header(FORWARDED_HEADER) !== undefined) return undefined;
  const row = await directory.remote(id);
  if (row === undefined) return undefined;
  if (!matchesHash(token, row.tokenHash)) return "unauthorized";
  const base = normalizeHttpUrl(row.advertiseUrl);
  return base === undefined ? undefined : { row, base };
}

/** Logged when the owner cannot be reached (never with the token: the URL is the bare base). */
export function logUnreachableOwner(logger: Logger, id: string, owner: { row: SessionRow; base: string }, error: unknown): void {
  logger.info("Cannot reach the replica holding a session; answering 404 so the runner opens a new one", { sessionId: id, replica: owner.row.replicaId, url: publicUrl(owner.base), error: String(error).slice(0, 200) });
}

export interface SessionForwarder {
  /**
   * The owner's answer for a call of session `id`, which this replica does not hold; a 401 when
   * the token is not that session's; undefined when it must be answered 404 here (no live owner,
   * the owner unreachable, or the request was itself forwarded).
   */
  forward(c: Context, id: string): Promise<Response | undefined>;
}

export function sessionForwarder(options: { directory: SessionDirectory; pollWaitMs: number; logger: Logger }): SessionForwarder {
  const { directory, logger } = options;
  return {
    async forward(c, id) {
      const authorization = c.req.header("authorization");
      const owner = await sessionOwner(directory, c, id, bearerToken(authorization));
      if (owner === "unauthorized") return errorResponse(c, 401, "unauthorized", "Wrong or missing session token");
      if (owner === undefined) return undefined;
      const { base } = owner;
      const url = new URL(c.req.url);
      const method = c.req.method;
      let body: Uint8Array | undefined;
      if (method === "POST") {
        try {
          body = await readLimited(c.req.raw.body, {
            maxBytes: MAX_BODY_BYTES,
            tooLarge: () => {
              throw new EdgeError("too_large", `Cannot send messages: body is larger than ${MAX_BODY_BYTES} bytes`);
            },
          });
        } catch (error) {
          return errorFromException(c, error);
        }
      }
      const receiving = url.pathname.endsWith("/receive");
      const headers: Record<string, string> = { authorization: authorization as string, [FORWARDED_HEADER]: directory.replicaId };
      const type = c.req.header("content-type");
      if (type !== undefined) headers["content-type"] = type;
      try {
        const answer = await fetch(`${base}${url.pathname}${url.search}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: body as unknown as BodyInit }),
          redirect: "manual",
          signal: AbortSignal.timeout((receiving ? options.pollWaitMs : 0) + FORWARD_MARGIN_MS),
        });
        return new Response(answer.body, { status: answer.status, headers: { "content-type": answer.headers.get("content-type") ?? "application/json" } });
      } catch (error) {
        logUnreachableOwner(logger, id, owner, error);
        return undefined;
      }
    },
  };
}
