// How the edge connection opens a session and its transport: over the network by default, a
// scripted one in tests (no ports where ports are not the point). The long-poll transport is
// imported at its first use: a runner on WebSockets (the default) never loads it (issue 15).

import type { CreateSessionResponse } from "../../protocol/edge-v1.ts";
import { createSession, type CreateSessionOptions } from "./session.ts";
import type { OpenTransportOptions, Transport, TransportKind } from "./transport.ts";
import { openWebSocketTransport } from "./ws-transport.ts";

export interface TransportOpener {
  /** Creates a session; throws an EdgeError whose code the connection's table decides by. */
  session(options: CreateSessionOptions): Promise<CreateSessionResponse>;
  /** Attaches the transport for a session; throws an EdgeError the same way. */
  open(kind: TransportKind, options: OpenTransportOptions): Promise<Transport>;
}

export const networkOpener: TransportOpener = {
  session: createSession,
  open: async (kind, options) => (kind === "websocket" ? openWebSocketTransport(options) : (await import("./poll-transport.ts")).openPollTransport(options)),
};
