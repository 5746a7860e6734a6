// Doctor check: the controller accepts this runner's id and API key. It asks
// POST /edge/v1/check, which authenticates like session creation but opens no session, so
// running doctor next to a live runner does not replace (and disconnect) the runner's session.
// Its answer lists the session features the controller announces (`release`: local prefetch),
// which the check shows, with what a missing one means.

import { errorMessage } from "../../../errors.ts";
import { redactor } from "../../../log/redact.ts";
import { sessionFeatures } from "../../../controller/edge/session-features.ts";
import type { Config } from "../../../config/resolve.ts";
import { EDGE_PATHS } from "../../../protocol/edge-v1.ts";
import type { CheckResult, DoctorCheck } from "../check.ts";
import { httpRequestText } from "../http-request.ts";
import { publicUrl } from "../../../config/url.ts";
import { primaryControllerUrl } from "../../../config/resolve.ts";

export const authenticationCheck: DoctorCheck = {
  id: "authentication",
  title: "authentication",
  needs: ["key-files", "controller-reachable", "tls"],
  async run(ctx) {
    const config = ctx.state.config!;
    if (config.controllerKind === "meshstack") return { status: "skip", summary: "meshStack is checked below" };
    const apiKey = ctx.state.apiKey;
    if (apiKey === undefined) return { status: "fail", summary: "no API key was read", fix: `set "apiKeyFile"` };
    redactor.add(apiKey);
    const base = primaryControllerUrl(config);
    const url = `${base}${EDGE_PATHS.check}`;
    const tls = { ...(ctx.state.caPem === undefined ? {} : { caPem: ctx.state.caPem }), timeoutMs: ctx.timeoutMs };
    let answer;
    try {
      const body = JSON.stringify({ v: 1, runnerId: config.runnerId!, group: config.group });
      answer = await httpRequestText({ url, method: "POST", headers: { authorization: `Bearer ${apiKey}` }, body, ...tls });
    } catch (error) {
      return { status: "fail", summary: `cannot check credentials at ${publicUrl(url)}: ${errorMessage(error)}`, fix: "see the TLS and reachability checks above" };
    }
    const who = `runner "${config.runnerId}"`;
    switch (answer.status) {
      case 200:
        return withFeatures(`the controller accepted ${who} in group "${config.group}"`, answer.body, config);
      case 401:
        return { status: "fail", summary: `the controller refused ${who} with this API key (401)`, fix: `check the key in "${config.apiKeyFile ?? "apiKey"}" and that ${who} is registered with the controller` };
      case 403:
        return { status: "fail", summary: `${who} is known but not allowed (403): ${reason(answer.body)}`, fix: `enable ${who} on the controller, or correct "group" (now "${config.group}")` };
      case 404:
        return { status: "fail", summary: `the controller has no ${EDGE_PATHS.check} endpoint (404)`, fix: `check that "controllerUrl" (${publicUrl(base)}) points at an edge protocol v1 controller` };
      default:
        return { status: "fail", summary: `the credentials check answered HTTP ${answer.status}: ${reason(answer.body)}`, fix: answer.status >= 500 || answer.status === 429 ? "retry later; check the controller's logs" : `check "controllerUrl" (${publicUrl(base)})` };
    }
  },
};

/**
 * The accepted answer with the session features the controller lists, read as the runner reads
 * a session answer's (session-features.ts). Without `release` the runner holds no offered job
 * beyond its free slots: a warning when `prefetch` asks for some.
 */
function withFeatures(accepted: string, body: string, config: Config): CheckResult {
  let features;
  try {
    const answer = JSON.parse(body) as { features?: unknown } | null;
    features = sessionFeatures(answer !== null && typeof answer === "object" ? answer.features : undefined);
  } catch (error) {
    return { status: "fail", summary: `${accepted}, but ${errorMessage(error).replace(/^Cannot create session: /, "")}`, fix: "upgrade the controller, or report its answer to whoever runs it" };
  }
  const listed = features.size === 0 ? "the controller lists no session features" : `session features: ${[...features].join(", ")}`;
  if (features.has("release")) return { status: "pass", summary: `${accepted}; ${listed}` };
  const missing = `no "release": no local prefetch (the runner takes offered jobs for its free slots only)`;
  if (config.prefetch > 0) {
    return { status: "warn", summary: `${accepted}; ${listed}; ${missing}, so prefetch ${config.prefetch} is not used`, fix: `upgrade the controller to one that lists "release" (the reference controller does), or set "prefetch" to 0` };
  }
  return { status: "pass", summary: `${accepted}; ${listed}; ${missing}` };
}

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
