// The plan a meshStack APPLY run applies: the saved plan of the DETECT run the user approved,
// which the meshStack adapter downloads (at most 128 MiB) and hands over as `planArtifact`
// (base64). It is checked (base64 only, not empty, within the cap) before anything runs, written
// to a file of its own (0600, in the job's private 0700 directory, outside the module) just before
// `terraform apply FILE`, and removed after. Applying it, Terraform refuses a plan whose state
// changed since the DETECT ("Saved plan is stale"): that failure is explained, never answered by
// planning again, as meshcloud's own runner does (tf-block-runner/tfrun/tfapply.go).

import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError } from "../../../errors.ts";

/** The largest plan applied: the meshStack adapter's download cap (controller/meshstack/api-client.ts MAX_PLAN_BYTES). */
export const APPROVED_PLAN_MAX = 128 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const FILE_NAME = "approved.tfplan";
const CANNOT = "Cannot apply the plan approved in meshStack";

/** The plan's bytes; `input_invalid` for one that is not base64, empty or over `maxBytes` (base64: 4 characters per 3 bytes). */
export function decodeApprovedPlan(base64: unknown, maxBytes = APPROVED_PLAN_MAX): Uint8Array {
  if (typeof base64 !== "string") throw new EdgeError("input_invalid", `${CANNOT}: planArtifact is not a base64 string`);
  // By its length first: a string too long is refused before it is scanned or decoded.
  if (base64.length > Math.ceil(maxBytes / 3) * 4) throw new EdgeError("input_invalid", `${CANNOT}: it is over ${maxBytes} bytes (${base64.length} base64 characters)`);
  // Buffer.from(…, "base64") skips what is not base64; a plan with a byte lost is not the one approved.
  if (base64.length % 4 !== 0 || !BASE64.test(base64)) throw new EdgeError("input_invalid", `${CANNOT}: planArtifact is not valid base64 (${base64.length} characters)`);
  const bytes = Buffer.from(base64, "base64");
  if (bytes.byteLength === 0) throw new EdgeError("input_invalid", `${CANNOT}: planArtifact is empty`);
  if (bytes.byteLength > maxBytes) throw new EdgeError("input_invalid", `${CANNOT}: it is ${bytes.byteLength} bytes, over ${maxBytes}`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Writes the plan as `<workDir>/approved.tfplan`, 0600, refusing a file already there; returns the path. */
export async function writeApprovedPlan(workDir: string, bytes: Uint8Array): Promise<string> {
  const file = join(workDir, FILE_NAME);
  await writeFile(file, bytes, { mode: 0o600, flag: "wx" });
  return file;
}

export async function removeApprovedPlan(file: string): Promise<void> {
  await rm(file, { force: true }).catch(() => undefined);
}

/**
 * Why `terraform apply FILE` failed, for the user in meshStack: terraform's own error, and what
 * to do when the plan no longer fits (the state changed, or it cannot be read).
 */
export function approvedPlanFailure(terraformError: string | undefined, code: number): string {
  const why = terraformError === undefined ? `terraform apply exited with code ${code}` : `terraform apply exited with code ${code}: ${terraformError.slice(0, 1000)}`;
  const summary = terraformError ?? "";
  if (/^(Saved plan is stale|Saved plan does not match the given state)/.test(summary)) {
    return `${CANNOT}: ${why}. The state changed after the plan was made, so nothing was applied and no new plan was made in its place; run the dry run (DETECT) again and approve the new plan`;
  }
  if (/^(Failed to load ".*" as a plan file|Failed to read plan from plan file)/.test(summary)) {
    return `${CANNOT}: ${why}. Terraform cannot read it (a plan is applied only by the Terraform version that made it), so nothing was applied; run the dry run (DETECT) again and approve the new plan`;
  }
  return `${CANNOT}: ${why}`;
}
