// Creating an edge session: the one call that carries the API key. Its HTTP status becomes an
// error code (codeForStatus), and the connection's one table decides by code what happens next
// (src/controller/failure.ts; the statuses are in docs/protocol.md).

import { EdgeError, errorMessage } from "../../errors.ts";
import { PROTOCOL_VERSION, EDGE_PATHS, type CreateSessionRequest, type CreateSessionResponse } from "../../protocol/edge-v1.ts";
import { parseRetryAfter } from "../../util/backoff.ts";
import { codeForStatus } from "../failure.ts";
import type { TransportKind } from "./transport.ts";
import type { ControllerClient } from "../../platform/controller-client.ts";
import { publicUrl } from "../../config/url.ts";
import { readJsonAnswer } from "../../util/json-answer.ts";
import { CONTROLLER_CALL_TIMEOUT_MS } from "../../protocol/limits.ts";
import { hasLoneSurrogate } from "../../util/well-formed.ts";
import { bearerTokenUnsafeCharacter } from "../../util/header-value.ts";

export interface CreateSessionOptions {
  baseUrl: string;
  client: ControllerClient;
  runnerId: string;
  group: string;
  apiKey: string;
  version: string;
  transport: TransportKind;
  signal: AbortSignal;
  now: () => number;
}

export async function createSession(options: CreateSessionOptions): Promise<CreateSessionResponse> {
  const body: CreateSessionRequest = {
    v: PROTOCOL_VERSION,
    runnerId: options.runnerId,
    group: options.group,
    version: options.version,
    transport: options.transport,
  };
  let response: Response;
  try {
    response = await options.client.fetch(options.baseUrl + EDGE_PATHS.sessions, {
      method: "POST",
      headers: { authorization: `Bearer ${options.apiKey}`, "content-type": "application/json", "user-agent": `edge-runner/${options.version}` },
      body: JSON.stringify(body),
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(CONTROLLER_CALL_TIMEOUT_MS)]),
    });
  } catch (error) {
    throw new EdgeError("connection_failed", `Cannot reach controller at "${publicUrl(options.baseUrl)}": ${errorMessage(error)}`);
  }
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), options.now());
  if (response.status !== 201 && response.status !== 200) {
    const detail = await errorDetail(response);
    const what =
      response.status === 401 ? "the controller refused the runner id or API key" :
      response.status === 403 ? "the controller does not allow this runner" :
      response.status === 426 ? `the controller does not speak edge protocol v${PROTOCOL_VERSION}` :
      `the controller answered ${response.status}`;
    throw new EdgeError(codeForStatus(response.status), `Cannot create session: ${what}${detail}`, retryAfterMs === undefined ? {} : { retryAfterMs });
  }
  const session = await readJsonAnswer(response, "create session", MAX_ANSWER_BYTES);
  if (session === null || typeof session !== "object" || Array.isArray(session)) {
    throw new EdgeError("protocol_error", "Cannot create session: the controller's answer is not a JSON object");
  }
  // Both go into URLs and headers of every later call: bounded like any value from the controller,
  // and well-formed (encodeURIComponent throws on a lone surrogate, which every attach then failed
  // with, naming nothing).
  for (const [field, max] of [["sessionId", MAX_SESSION_ID_CHARS], ["token", MAX_TOKEN_CHARS]] as const) {
    const value = (session as Record<string, unknown>)[field];
    if (typeof value !== "string" || value.length === 0 || value.length > max || hasLoneSurrogate(value)) {
      throw new EdgeError("protocol_error", `Cannot create session: the controller's answer has no usable "${field}" (expected a well-formed string of 1 to ${max} characters)`);
    }
  }
  // The token goes into every long-poll call's Authorization header: one the runtime refuses there
  // ("Header 'Authorization' has invalid value") used to fail every attach, retried forever.
  // The session id goes only into URLs, encoded: any well-formed string can.
  const bad = bearerTokenUnsafeCharacter((session as { token: string }).token);
  if (bad !== undefined) {
    throw new EdgeError("protocol_error", `Cannot create session: the controller's answer has a "token" that cannot be sent as a bearer token: it holds ${bad} (expected RFC 6750 b64token characters)`);
  }
  return session as CreateSessionResponse;
}

/** A session id is a name in a URL path; a token a bearer credential. */
const MAX_SESSION_ID_CHARS = 256;
const MAX_TOKEN_CHARS = 16_384;
/** A session answer is a few hundred bytes; a controller's answer is read up to this, never whole. */
const MAX_ANSWER_BYTES = 64 * 1024;

async function errorDetail(response: Response): Promise<string> {
  try {
    const body = (await readJsonAnswer(response, "create session", MAX_ANSWER_BYTES)) as { error?: { message?: unknown } } | null | undefined;
    return typeof body?.error?.message === "string" ? ` (${body.error.message.slice(0, 200)})` : "";
  } catch {
    return "";
  }
}
