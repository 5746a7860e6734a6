// The github-workflow plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";
import { BASE_URL, POLL_MS, SECRET_REF } from "../schema-parts.ts";

const NAME = "^[A-Za-z0-9_.-]{1,100}$";

export const GITHUB_WORKFLOW_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "github-workflow input",
  type: "object",
  additionalProperties: false,
  required: ["owner", "repo", "workflow", "ref"],
  properties: {
    baseUrl: { ...BASE_URL, description: "API base: https://api.github.com (default) or https://HOST/api/v3 (GitHub Enterprise Server)" },
    owner: { type: "string", pattern: NAME },
    repo: { type: "string", pattern: NAME },
    workflow: { type: "string", pattern: "^[A-Za-z0-9_.-]{1,255}$", description: "the workflow file name (deploy.yml) or its id" },
    ref: { type: "string", minLength: 1, maxLength: 255, pattern: "^[^\\s]+$", description: "branch or tag the workflow runs on" },
    inputs: { type: "object", maxProperties: 24, propertyNames: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_-]{0,99}$" }, additionalProperties: { type: "string", maxLength: 65536 }, description: "workflow_dispatch inputs" },
    app: {
      type: "object",
      additionalProperties: false,
      required: ["appId", "privateKeyRef"],
      description: "GitHub App credentials (preferred)",
      properties: {
        appId: { type: ["string", "integer"], pattern: "^[0-9]{1,20}$", minimum: 1 },
        privateKeyRef: { ...SECRET_REF, description: "the App's private key (PEM), by reference" },
        installationId: { type: ["string", "integer"], pattern: "^[0-9]{1,20}$", minimum: 1, description: "default: looked up for owner/repo" },
      },
    },
    tokenRef: { ...SECRET_REF, description: "a fine-grained token instead of an App (actions: write)" },
    mode: { type: "string", enum: ["sync", "async"], default: "sync" },
    pollMs: POLL_MS,
    runIdInput: { type: ["string", "null"], pattern: "^[A-Za-z_][A-Za-z0-9_-]{0,99}$", default: "edge_run_id", description: "the workflow input that carries the correlation id (show it in run-name); null: none (then the server must return run details)" },
    findRunTimeoutMs: { type: "integer", minimum: 1000, maximum: 3600000, default: 300000 },
  },
  anyOf: [{ required: ["app"] }, { required: ["tokenRef"] }],
};
