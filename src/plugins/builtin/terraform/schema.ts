// The terraform plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";
import { ENV_NAME, RELATIVE_PATH, SECRET_REF } from "../schema-parts.ts";

const VARIABLE_NAME = "^[A-Za-z_][A-Za-z0-9_-]{0,127}$";

export const TERRAFORM_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "terraform input",
  type: "object",
  additionalProperties: false,
  required: ["module"],
  properties: {
    module: {
      type: "object",
      additionalProperties: false,
      description: "where the module comes from: a git repository (HTTPS or SSH) or a local directory",
      properties: {
        git: { type: "string", maxLength: 2048, pattern: "^(https://(?![^/@\\s]*@)|ssh://(?![^/@\\s]*:[^/@\\s]*@)|git@)[^\\s]+$", description: "repository URL, with no credentials in it (an SSH deploy key goes in sshKeyRef)" },
        ref: { type: "string", maxLength: 256, pattern: "^[A-Za-z0-9._/-]+$", description: "branch or tag (default: the default branch)" },
        path: { type: "string", pattern: RELATIVE_PATH, description: "the module's directory inside the repository or local directory" },
        local: { type: "string", maxLength: 4096, pattern: "^/(?!.*(^|/)\\.\\.(/|$)).*$", description: "an absolute directory on the runner's host, copied for the job" },
        sshKeyRef: SECRET_REF,
        knownHostsRef: SECRET_REF,
      },
      anyOf: [{ required: ["git"] }, { required: ["local"] }],
    },
    variables: { type: "object", maxProperties: 512, propertyNames: { type: "string", pattern: VARIABLE_NAME }, description: "written as edge-runner.auto.tfvars.json" },
    secretVariables: { type: "object", maxProperties: 128, propertyNames: { type: "string", pattern: VARIABLE_NAME }, additionalProperties: SECRET_REF, description: "variables whose values are secrets, by reference (a file of their own, 0600)" },
    env: { type: "object", maxProperties: 256, propertyNames: { type: "string", pattern: ENV_NAME }, additionalProperties: { type: "string", maxLength: 65536 } },
    secretEnv: { type: "object", maxProperties: 64, propertyNames: { type: "string", pattern: ENV_NAME }, additionalProperties: SECRET_REF, description: "backend and provider credentials as environment variables, by reference" },
    backendConfig: { type: "object", maxProperties: 64, propertyNames: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]{0,127}$" }, additionalProperties: { type: "string", maxLength: 4096 }, description: "-backend-config=KEY=VALUE for init" },
    binary: { type: "string", maxLength: 4096, pattern: "^[^\\s]+$", description: "terraform or tofu, a name on PATH or an absolute path (default: terraform, else tofu)" },
    keepPlan: { type: "boolean", default: false, description: "keep the plan file as the job's artifact tfplan, streamed from the file; a plan over 1 GiB or the runner's artifactMaxBytes fails the job with storage_limit" },
    killGraceMs: { type: "integer", minimum: 0, maximum: 600000, default: 30000, description: "after cancel or timeout: SIGTERM (terraform stops gracefully), this long, then SIGKILL" },
  },
};
