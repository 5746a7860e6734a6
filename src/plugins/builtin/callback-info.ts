// What an async pipeline needs to report back to the platform itself: on the reference controller,
// the job's callback URL and job-scoped token (ctx.secrets, reserved references); in a meshStack
// run, the run's register/update URLs and run token (handed over by the meshStack adapter).

import { EdgeError, errorMessage } from "../../errors.ts";
import type { ActionContext } from "../sdk.ts";

export const CALLBACK_URL_REF = "controller:$callback.url";
export const CALLBACK_TOKEN_REF = "controller:$callback.token";

export interface EdgeCallback {
  kind: "edge";
  url: string;
  token: string;
}

export interface MeshstackCallback {
  kind: "meshstack";
  registerSourceUrl: string;
  updateSourceUrl: string;
  runToken: string;
  runUuid: string;
}

export type Callback = EdgeCallback | MeshstackCallback;

/** The callback for this job; throws `integration_failed` naming `integration` when there is none. */
export async function callbackFor(ctx: ActionContext, meshstack: Record<string, unknown> | undefined, integration: string): Promise<Callback> {
  if (meshstack !== undefined) {
    const { registerSourceUrl, updateSourceUrl, runToken, runUuid } = meshstack;
    if (typeof registerSourceUrl !== "string" || typeof updateSourceUrl !== "string" || typeof runToken !== "string") {
      throw new EdgeError("integration_failed", `${integration}: cannot start in async mode: the meshStack run carries no register/update URLs and run token`);
    }
    return { kind: "meshstack", registerSourceUrl, updateSourceUrl, runToken, runUuid: String(runUuid ?? "") };
  }
  try {
    return { kind: "edge", url: await ctx.secrets.get(CALLBACK_URL_REF), token: await ctx.secrets.get(CALLBACK_TOKEN_REF) };
  } catch (error) {
    throw new EdgeError("integration_failed", `${integration}: cannot start in async mode: the controller gives no job callback (${errorMessage(error)})`);
  }
}

/** The callback as flat pipeline variables/inputs (names shown in docs/integrations.md). */
export function callbackVariables(callback: Callback): Record<string, string> {
  if (callback.kind === "edge") return { EDGE_CALLBACK_URL: callback.url, EDGE_CALLBACK_TOKEN: callback.token };
  return {
    MESHSTACK_RUN_UUID: callback.runUuid,
    MESHSTACK_REGISTER_SOURCE_URL: callback.registerSourceUrl,
    MESHSTACK_UPDATE_SOURCE_URL: callback.updateSourceUrl,
    MESHSTACK_RUN_TOKEN: callback.runToken,
  };
}
