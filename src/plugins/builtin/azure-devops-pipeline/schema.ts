// The azure-devops-pipeline plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";
import { BASE_URL, POLL_MS, SECRET_REF } from "../schema-parts.ts";
import { API_VERSIONS } from "./api-version.ts";

export const AZURE_DEVOPS_PIPELINE_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "azure-devops-pipeline input",
  type: "object",
  additionalProperties: false,
  required: ["organization", "project", "pipelineId", "patRef"],
  properties: {
    baseUrl: { ...BASE_URL, description: "https://dev.azure.com (default) or an Azure DevOps Server collection URL's host part" },
    organization: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description: "organization (or collection on Azure DevOps Server)" },
    project: { type: "string", minLength: 1, maxLength: 64, pattern: "^[^/\\\\?#%]+$" },
    pipelineId: { type: "integer", minimum: 1 },
    ref: { type: "string", maxLength: 255, pattern: "^refs/[^\\s]+$", description: "refName, e.g. refs/heads/main (default: the pipeline's default branch)" },
    templateParameters: { type: "object", maxProperties: 100, propertyNames: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]{0,99}$" }, additionalProperties: { type: "string", maxLength: 65536 } },
    variables: { type: "object", maxProperties: 100, propertyNames: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_.]{0,99}$" }, additionalProperties: { type: "string", maxLength: 65536 }, description: "queue-time variables (the pipeline must allow them to be set at queue time)" },
    patRef: { ...SECRET_REF, description: "a personal access token (Build: read & execute), by reference" },
    mode: { type: "string", enum: ["sync", "async"], default: "sync" },
    pollMs: POLL_MS,
    apiVersion: { type: "string", enum: [...API_VERSIONS], description: "REST API version: 7.1 (Azure DevOps Services; the default), 7.0 (Azure DevOps Server 2022), 6.0 (Server 2020). Not given: 7.1, and once the server's own when it refuses 7.1 as out of its range" },
  },
};
