// The gitlab-pipeline plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";
import { BASE_URL, POLL_MS, SECRET_REF } from "../schema-parts.ts";

export const GITLAB_PIPELINE_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "gitlab-pipeline input",
  type: "object",
  additionalProperties: false,
  required: ["projectId", "ref"],
  properties: {
    baseUrl: { ...BASE_URL, description: "https://gitlab.com (default) or a self-managed instance" },
    projectId: { type: ["integer", "string"], minimum: 1, maxLength: 255, pattern: "^([0-9]+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$", description: "numeric id or group/project path" },
    ref: { type: "string", minLength: 1, maxLength: 255, pattern: "^[^\\s]+$" },
    variables: { type: "object", maxProperties: 100, propertyNames: { type: "string", pattern: "^[A-Za-z0-9_]{1,255}$" }, additionalProperties: { type: "string", maxLength: 65536 } },
    inputs: { type: "object", maxProperties: 100, propertyNames: { type: "string", pattern: "^[A-Za-z0-9_-]{1,255}$" }, additionalProperties: { type: "string", maxLength: 65536 }, description: "the pipeline's spec:inputs (GitLab 17.11+), as text" },
    triggerTokenRef: { ...SECRET_REF, description: "a pipeline trigger token (POST /projects/:id/trigger/pipeline)" },
    tokenRef: { ...SECRET_REF, description: "a project access token (api scope): create the pipeline, read it and its jobs, cancel it" },
    mode: { type: "string", enum: ["sync", "async"], default: "sync" },
    pollMs: POLL_MS,
  },
  anyOf: [{ required: ["triggerTokenRef"] }, { required: ["tokenRef"] }],
};
