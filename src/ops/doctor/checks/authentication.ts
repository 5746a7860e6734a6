// Doctor check: the controller accepts this runner's id and API key. It creates a session at
// POST /edge/v1/sessions (201 = accepted) and deletes it at once; 401/403 name the bad piece.

import { errorMessage } from "../../../errors.ts";
import { redactor } from "../../../log/redact.ts";
import type { CreateSessionRequest } from "../../../protocol/edge-v1.ts";
import { VERSION } from "../../../version.ts";
import type { DoctorCheck } from "../check.ts";
import { httpRequestText } from "../http-request.ts";

export const authenticationCheck: DoctorCheck = {
  id: "authentication",
  title: "authentication",
  needs: ["key-files", "controller-reachable", "tls"],
  async run(ctx) {
    const config = ctx.state.config!;
    const apiKey = ctx.state.apiKey;
    if (apiKey === undefined) return { status: "fail", summary: "no API key was read", fix: `set "apiKeyFile"` };
    redactor.add(apiKey);
    const base = config.controllerUrl;
    const tls = { ...(ctx.state.caPem === undefined ? {} : { caPem: ctx.state.caPem }), timeoutMs: ctx.timeoutMs };
    const request: CreateSessionRequest = { v: 1, runnerId: config.runnerId!, group: config.group, version: VERSION, transport: "poll" };
    let answer;
    try {
      answer = await httpRequestText({ url: `${base}/edge/v1/sessions`, method: "POST", headers: { authorization: `Bearer ${apiKey}` }, body: JSON.stringify(request), ...tls });
    } catch (error) {
      return { status: "fail", summary: `cannot create a session at ${base}/edge/v1/sessions: ${errorMessage(error)}`, fix: "see the TLS and reachability checks above" };
    }
    const who = `runner "${config.runnerId}"`;
    switch (answer.status) {
      case 201:
        break;
      case 401:
        return { status: "fail", summary: `the controller refused ${who} with this API key (401)`, fix: `check the key in "${config.apiKeyFile ?? "apiKey"}" and that ${who} is registered with the controller` };
      case 403:
        return { status: "fail", summary: `${who} is known but not allowed (403): ${reason(answer.body)}`, fix: `enable ${who} on the controller, or correct "group" (now "${config.group}")` };
      case 426:
        return { status: "fail", summary: `the controller does not speak edge protocol v1 (426)`, fix: "upgrade the controller or use a runner release that matches it" };
      default:
        return { status: "fail", summary: `session creation answered HTTP ${answer.status}: ${reason(answer.body)}`, fix: answer.status >= 500 || answer.status === 429 ? "retry later; check the controller's logs" : `check "controllerUrl" (${base})` };
    }
    let session: { sessionId?: unknown; token?: unknown };
    try {
      session = JSON.parse(answer.body) as typeof session;
    } catch {
      return { status: "fail", summary: "session created (201) but its body is not JSON", fix: "check that \"controllerUrl\" points at an edge protocol v1 controller" };
    }
    if (typeof session.sessionId !== "string" || typeof session.token !== "string") {
      return { status: "fail", summary: "session created (201) without sessionId and token", fix: "check that \"controllerUrl\" points at an edge protocol v1 controller" };
    }
    redactor.add(session.token);
    const notes: string[] = [];
    try {
      const closed = await httpRequestText({ url: `${base}/edge/v1/sessions/${encodeURIComponent(session.sessionId)}`, method: "DELETE", headers: { authorization: `Bearer ${session.token}` }, ...tls });
      if (closed.status >= 300) notes.push(`the test session was not deleted (HTTP ${closed.status}); it expires by itself`);
    } catch (error) {
      notes.push(`the test session was not deleted (${errorMessage(error)}); it expires by itself`);
    } finally {
      redactor.remove(session.token);
    }
    return { status: "pass", summary: `the controller accepted ${who} (session created and closed)`, notes };
  },
};

/** The controller's `{"error":{"message"}}` if it sent one, else a short excerpt. */
function reason(body: string): string {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return message.slice(0, 200);
  } catch {
    // not JSON: fall through to the excerpt
  }
  return body.trim().slice(0, 200) || "(empty body)";
}
