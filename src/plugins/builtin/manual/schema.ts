// The manual plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";

export const MANUAL_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "manual input",
  type: "object",
  additionalProperties: false,
  properties: {
    message: { type: "string", maxLength: 4096, description: "what the approver is asked, shown on the waiting step" },
    timeoutMs: { type: "integer", minimum: 1000, maximum: 604800000, description: "fail with approval_timeout after this long without an answer (default: the job's own timeout)" },
    pollMs: { type: "integer", minimum: 100, maximum: 60000, default: 2000, description: "how often the decision is read from the controller" },
    outputs: { type: "object", maxProperties: 256, description: "returned as the job's output once approved" },
  },
};
