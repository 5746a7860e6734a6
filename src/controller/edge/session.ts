// Creating an edge session: the one call that carries the API key. Its HTTP status decides
// what happens next (see the table in docs/protocol.md).

import { EdgeError } from "../../errors.ts";
import { PROTOCOL_VERSION, EDGE_PATHS, type CreateSessionRequest, type CreateSessionResponse } from "../../protocol/edge-v1.ts";
import { parseRetryAfter } from "../backoff.ts";
import type { TransportKind } from "./transport.ts";
import type { ControllerClient } from "../../platform/controller-client.ts";
import { publicUrl } from "../../config/url.ts";

export class SessionRefused extends EdgeError {
  readonly status: number;
  readonly retryAfterMs: number | undefined;
  constructor(status: number, message: string, retryAfterMs?: number) {
    super(status === 401 ? "unauthorized" : status === 403 ? "forbidden" : "connection_failed", message, {
      retryable: status !== 401 && status !== 403,
    });
    this.name = "SessionRefused";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

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
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(30_000)]),
    });
  } catch (error) {
    throw new SessionRefused(0, `Cannot reach controller at "${publicUrl(options.baseUrl)}": ${(error as Error).message}`);
  }
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), options.now());
  if (response.status !== 201 && response.status !== 200) {
    const detail = await errorDetail(response);
    const what =
      response.status === 401 ? "the controller refused the runner id or API key" :
      response.status === 403 ? "the controller does not allow this runner" :
      response.status === 426 ? `the controller does not speak edge protocol v${PROTOCOL_VERSION}` :
      `the controller answered ${response.status}`;
    throw new SessionRefused(response.status, `Cannot create session: ${what}${detail}`, retryAfterMs);
  }
  const session = (await response.json()) as CreateSessionResponse;
  if (typeof session.sessionId !== "string" || typeof session.token !== "string") {
    throw new SessionRefused(502, "Cannot create session: the controller's answer has no sessionId or token");
  }
  return session;
}

async function errorDetail(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: unknown } };
    return typeof body.error?.message === "string" ? ` (${body.error.message.slice(0, 200)})` : "";
  } catch {
    return "";
  }
}
