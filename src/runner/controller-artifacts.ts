// The reference controller as a job's artifact destination: each artifact is one streamed PUT to
// EDGE_PATHS.artifact by the runner holding the attempt, with its API key. The controller answers
// with its own SHA-256, which the host compares with the one it computed (host-calls.ts).

import type { ArtifactSink } from "../artifacts/artifact-sink.ts";
import { EdgeError, errorMessage } from "../errors.ts";
import { defaultControllerClient, type ControllerClient } from "../platform/controller-client.ts";
import { EDGE_PATHS } from "../protocol/edge-v1.ts";
import { urlOf, type UrlSource } from "../config/url.ts";
import { objectOf, readJsonAnswer } from "../util/json-answer.ts";

/** The controller answers an upload with a few fields; anything longer is not its answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface ControllerArtifactsOptions {
  /** The controller to upload to: the current one after a failover. */
  controllerUrl: UrlSource;
  runnerId: string;
  apiKey: string;
  client?: ControllerClient;
}

export function controllerArtifactSink(options: ControllerArtifactsOptions): ArtifactSink {
  const client = options.client ?? defaultControllerClient;
  return {
    async put(upload) {
      let response: Response;
      try {
        response = await client.fetch(urlOf(options.controllerUrl) + EDGE_PATHS.artifact(upload.jobId, upload.attempt, upload.name), {
          method: "PUT",
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            "x-edge-runner-id": options.runnerId,
            "content-type": upload.contentType ?? "application/octet-stream",
          },
          body: upload.body,
          // A streamed request body (fetch on Node, Bun and Deno) must say so.
          duplex: "half",
          signal: upload.signal,
        } as RequestInit);
      } catch (error) {
        throw new EdgeError("storage_failed", `Cannot upload artifact "${upload.name}" of job "${upload.jobId}": ${errorMessage(error)}`, { retryable: true });
      }
      if (!response.ok) {
        let detail = "";
        let error: Record<string, unknown> = {};
        try {
          error = objectOf(objectOf(await readJsonAnswer(response, `upload artifact "${upload.name}"`, MAX_ANSWER_BYTES)).error);
        } catch {
          // The status says enough.
        }
        detail = typeof error.message === "string" ? error.message : "";
        if (error.code === "storage_limit") throw new EdgeError("storage_limit", detail.slice(0, 500));
        throw new EdgeError("storage_failed", `Cannot upload artifact "${upload.name}" of job "${upload.jobId}": the controller answered ${response.status}${detail === "" ? "" : ` (${detail.slice(0, 300)})`}`, { retryable: response.status >= 500 });
      }
      const { sha256 } = objectOf(await readJsonAnswer(response, `upload artifact "${upload.name}"`, MAX_ANSWER_BYTES));
      return typeof sha256 === "string" && sha256.length <= 128 ? { sha256 } : {};
    },
  };
}
