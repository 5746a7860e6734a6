// keepPlan: the plan file as the job's artifact `tfplan`.

import { readFile } from "node:fs/promises";
import type { ActionContext, ArtifactInfo } from "../../sdk.ts";

/** The plan file as an artifact (streamed to the controller, kept with the job's result). */
export async function keepPlan(file: string, ctx: Pick<ActionContext, "artifacts" | "signal">): Promise<ArtifactInfo> {
  return ctx.artifacts.put("tfplan", await readFile(file), { contentType: "application/octet-stream" });
}
