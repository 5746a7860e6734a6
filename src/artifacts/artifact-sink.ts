// Artifacts: named objects a job hands back with its result on request (ctx.artifacts.put), such
// as a Terraform plan. Unlike intermediate storage they outlive the job: the runner streams each
// one to an ArtifactSink (the reference controller, or another controller's adapter) and records
// its size and SHA-256 in the job's result. The sink is the seam a controller adapter implements.

import { EdgeError } from "../errors.ts";

// What the result carries for each artifact is part of the job's outcome, in the protocol.
import type { ArtifactRecord } from "../protocol/edge-v1.ts";
export type { ArtifactRecord };

export interface ArtifactUpload {
  jobId: string;
  attempt: number;
  name: string;
  contentType?: string;
  /** The bytes; already bounded by the runner's artifactMaxBytes and hashed as they flow. */
  body: ReadableStream<Uint8Array>;
  signal: AbortSignal;
}

/**
 * Where a job's artifacts go. `put` resolves when the destination holds all the bytes; it may
 * return the destination's own digest, which must equal the runner's. Implemented for the
 * reference controller by src/runner/controller-artifacts.ts.
 */
export interface ArtifactSink {
  put(upload: ArtifactUpload): Promise<{ sha256?: string }>;
}

/** At most this many artifacts per job attempt. */
export const MAX_ARTIFACTS = 32;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws EdgeError `input_invalid` unless `name` is an artifact name (one path segment, 128 characters at most). */
export function checkArtifactName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new EdgeError("input_invalid", `Cannot keep artifact "${String(name).slice(0, 100)}": a name is 1 to 128 letters, digits and "._-", starting with a letter or digit`);
  }
  return name;
}

/** A sink for runners with no artifact destination: every put fails, naming why. */
export const noArtifactSink: ArtifactSink = {
  put: async (upload) => {
    throw new EdgeError("storage_failed", `Cannot keep artifact "${upload.name}" for job "${upload.jobId}": this runner has no artifact destination`);
  },
};
