// The edge protocol endpoints (docs/protocol.md, "Session"): session creation, the WebSocket
// attach, long-poll send/receive, and session end.

import { Hono, type Context } from "hono";
import type { UpgradeWebSocket, WSEvents } from "hono/ws";
import { EDGE_PATHS, PROTOCOL_VERSION, type CreateSessionRequest } from "../protocol/edge-v1.ts";
import { packTexts } from "../protocol/frames.ts";
import { MAX_BATCH_MESSAGES } from "../protocol/limits.ts";
import type { ControllerCore } from "./controller-core.ts";
import { CONTROLLER_FEATURES, type EdgeSessions } from "./edge-sessions.ts";
import { asObject, errorFromException, errorResponse, invalid, readJson, type Obj } from "./http-helpers.ts";
import type { RunnerMessages } from "./runner-messages.ts";
import type { RunnerRegistry } from "./runner-registry.ts";
import type { EdgeSession } from "./session.ts";
import type { SessionForwarder } from "./session-forward.ts";
import type { SessionRelays } from "./session-relay.ts";
import { bearerToken } from "./tokens.ts";

export interface EdgeAppOptions {
  core: ControllerCore;
  sessions: EdgeSessions;
  messages: RunnerMessages;
  runners: RunnerRegistry;
  upgradeWebSocket: UpgradeWebSocket<unknown>;
  /** False while starting or stopping: session creation answers 503 with Retry-After. */
  accepting: () => boolean;
  /** PostgreSQL replicas: long-poll calls of a session another replica holds go there. */
  forwarder?: SessionForwarder;
  /** PostgreSQL replicas: a WebSocket attach of a session another replica holds is relayed there. */
  relays?: SessionRelays;
}

/** Session creation and credential checks carry a few short strings. */
const MAX_SESSION_BODY_BYTES = 16 * 1024;

export function createEdgeApp(options: EdgeAppOptions): Hono {
  const { core, sessions, messages, runners } = options;
  const app = new Hono();
  const base = EDGE_PATHS.sessions;

  app.post(base, async function createSession(c) {
    if (!options.accepting()) {
      c.header("Retry-After", "1");
      return errorResponse(c, 503, "unavailable", "The controller is starting, stopping or waiting for its store; retry shortly");
    }
    try {
      // Authenticate before reading the body: no key, no bytes read.
      const apiKey = bearerToken(c.req.header("authorization"));
      if (!runners.knowsKey(apiKey)) return errorResponse(c, 401, "unauthorized", "Cannot create a session: unknown runner or wrong API key");
      const body = asObject(await readJson(c, "create a session", MAX_SESSION_BODY_BYTES), "create a session");
      if (body.v !== PROTOCOL_VERSION) {
        if (typeof body.v === "number") {
          return errorResponse(c, 426, "unsupported_version", `Cannot create a session: protocol version ${body.v} is not supported (this controller speaks ${PROTOCOL_VERSION})`);
        }
        throw invalid(`Cannot create a session: "v" must be ${PROTOCOL_VERSION}`);
      }
      const created = sessions.create(sessionRequest(body), apiKey);
      // The runner's contact time was written; answer once it is durable like every change.
      await core.store.durable();
      return c.json(created, 201);
    } catch (error) {
      return errorFromException(c, error);
    }
  });

  // Checks credentials without creating a session (a session would replace the runner's live one).
  app.post(EDGE_PATHS.check, async function checkCredentials(c) {
    try {
      const apiKey = bearerToken(c.req.header("authorization"));
      if (!runners.knowsKey(apiKey)) return errorResponse(c, 401, "unauthorized", "Cannot check credentials: unknown runner or wrong API key");
      const body = asObject(await readJson(c, "check credentials", MAX_SESSION_BODY_BYTES), "check credentials");
      const runner = sessions.authorize(sessionRequest({ ...body, v: PROTOCOL_VERSION, version: "check", transport: "poll" }), apiKey, "check credentials");
      // The features a session here would list, so that `doctor` can show them without opening one.
      return c.json({ v: PROTOCOL_VERSION, runnerId: runner.id, group: runner.group, features: [...CONTROLLER_FEATURES] });
    } catch (error) {
      return errorFromException(c, error);
    }
  });

  /** The session named in the path, if the presented token is right; else an error response. */
  const pollSession = async (c: Context): Promise<EdgeSession | Response> => {
    const id = c.req.param("id") ?? "";
    const session = core.sessions.get(id);
    if (session === undefined) {
      const forwarded = await options.forwarder?.forward(c, id);
      return forwarded ?? errorResponse(c, 404, "not_found", "No such session (it ended); create a new one");
    }
    if (!session.checkPollToken(bearerToken(c.req.header("authorization")))) {
      return errorResponse(c, 401, "unauthorized", "Wrong or missing session token");
    }
    return session;
  };

  app.get(
    `${base}/:id/ws`,
    async function checkWebSocketToken(c, next) {
      const id = c.req.param("id");
      const session = core.sessions.get(id);
      if (session === undefined) {
        // Another replica's session (PostgreSQL): relayed there, once its socket there is open.
        const relayed = await options.relays?.attach(c, id);
        if (relayed instanceof Response) return relayed;
        if (relayed === undefined) return errorResponse(c, 404, "not_found", "No such session (it ended); create a new one");
        c.set("relay" as never, relayed as never);
        return next();
      }
      if (!session.consumeWebSocketToken(c.req.query("token"))) {
        return errorResponse(c, 401, "unauthorized", "Wrong, missing or already used session token");
      }
      c.set("session" as never, session as never);
      await next();
    },
    options.upgradeWebSocket((c) => {
      const relayed = c.get("relay" as never) as WSEvents | undefined;
      if (relayed !== undefined) return relayed;
      const session = c.get("session" as never) as EdgeSession;
      return {
        onOpen: (_event, ws) => {
          if (session.closed) return ws.close(1000, "session ended");
          session.attachSocket(batchingSocket(ws));
        },
        onMessage: (event, _ws) => {
          const data = event.data;
          if (typeof data === "string") messages.handleFrame(session, data);
          else messages.handleBinaryFrame(session, data);
        },
        onClose: () => sessions.end(session, "WebSocket closed"),
        onError: () => sessions.end(session, "WebSocket error"),
      };
    }),
  );

  app.post(`${base}/:id/send`, async function send(c) {
    const session = await pollSession(c);
    if (session instanceof Response) return session;
    try {
      const body = asObject(await readJson(c, "send messages"), "send messages");
      if (!Array.isArray(body.messages) || body.messages.length > MAX_BATCH_MESSAGES) {
        throw invalid(`Cannot send messages: "messages" must be an array of at most ${MAX_BATCH_MESSAGES} items`);
      }
      session.transport = "poll";
      session.lastPollAt = core.clock.now();
      messages.handleBatch(session, body.messages);
      return c.json({}, 202);
    } catch (error) {
      return errorFromException(c, error);
    }
  });

  app.get(`${base}/:id/receive`, async function receive(c) {
    const session = await pollSession(c);
    if (session instanceof Response) return session;
    if (session.receiving) return errorResponse(c, 409, "conflict", "Another receive is outstanding for this session");
    const asked = Number(c.req.query("waitMs") ?? core.settings.pollWaitMs);
    const waitMs = Number.isFinite(asked) && asked >= 0 ? Math.min(asked, core.settings.pollWaitMs) : core.settings.pollWaitMs;
    const out = await session.receive(waitMs);
    if (session.closed && out.length === 0) return errorResponse(c, 404, "not_found", "The session ended; create a new one");
    return c.json({ messages: out });
  });

  app.delete(`${base}/:id`, async function endSession(c) {
    const session = await pollSession(c);
    if (session instanceof Response) return session;
    sessions.end(session, "ended by the runner");
    return c.json({});
  });

  return app;
}

function sessionRequest(body: Obj): CreateSessionRequest {
  const field = (name: string, max = 256): string => {
    const v = body[name];
    if (typeof v !== "string" || v === "" || v.length > max) {
      throw invalid(`Cannot create a session: "${name}" must be a non-empty string of at most ${max} characters`);
    }
    return v;
  };
  const transport = body.transport;
  if (transport !== "websocket" && transport !== "poll") {
    throw invalid(`Cannot create a session: "transport" must be "websocket" or "poll"`);
  }
  return { v: 1, runnerId: field("runnerId", 128), group: field("group", 128), version: field("version", 64), transport };
}

/**
 * A session socket that sends what one turn delivers as one frame (or a few, each ≤ 1 MiB): a
 * single message as itself, several as a JSON array (a batch, docs/protocol.md). The messages are
 * already JSON text, so a batch is joined, not serialized again. Pending ones leave before a close.
 */
function batchingSocket(ws: { send(data: string): void; close(code?: number, reason?: string): void }) {
  let pending: string[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    try {
      for (const frame of packTexts(batch)) ws.send(frame);
    } catch {
      // The socket closed under us: its close handler ends the session, and the runner's next
      // session replays what matters. A throw here (in a microtask) would crash the process.
    }
  };
  return {
    send(data: string): void {
      if (pending.push(data) === 1) queueMicrotask(flush);
    },
    close(code?: number, reason?: string): void {
      flush();
      ws.close(code, reason);
    },
  };
}
