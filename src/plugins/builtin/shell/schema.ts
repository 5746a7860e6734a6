// The shell plugin's input, as the JSON Schema that `job submit` and the plugin both check.

import type { JsonSchema } from "../input-schema.ts";
import { ENV_NAME, RELATIVE_PATH, SECRET_REF } from "../schema-parts.ts";

export const SHELL_INPUT: JsonSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "shell input",
  type: "object",
  additionalProperties: false,
  properties: {
    command: { type: "array", minItems: 1, maxItems: 1024, items: { type: "string", maxLength: 65536 }, description: "argv: the program and its arguments (no shell unless you name one)" },
    script: { type: "string", minLength: 1, maxLength: 1048576, description: "a script, run by `interpreter` from a file" },
    interpreter: { type: "array", minItems: 1, maxItems: 16, items: { type: "string", minLength: 1, maxLength: 4096 }, description: "argv of the script's interpreter, e.g. [\"bash\", \"-eu\"]; the script file is appended" },
    env: { type: "object", maxProperties: 256, propertyNames: { type: "string", pattern: ENV_NAME }, additionalProperties: { type: "string", maxLength: 65536 } },
    secretEnv: { type: "object", maxProperties: 64, propertyNames: { type: "string", pattern: ENV_NAME }, additionalProperties: SECRET_REF, description: "environment variables whose values are secrets, by reference" },
    files: { type: "object", maxProperties: 64, propertyNames: { type: "string", pattern: RELATIVE_PATH }, additionalProperties: { type: "string", maxLength: 1048576 }, description: "files written into the working directory first" },
    secretFiles: { type: "object", maxProperties: 16, propertyNames: { type: "string", pattern: RELATIVE_PATH }, additionalProperties: SECRET_REF, description: "files (mode 0600) whose contents are secrets, by reference" },
    cwd: { type: "string", pattern: RELATIVE_PATH, description: "a directory inside the job's working directory" },
    stdin: { type: "string", maxLength: 1048576 },
    outputMaxBytes: { type: "integer", minimum: 1024, maximum: 104857600, default: 10485760, description: "log bytes kept; past it a truncation marker, and the rest is read and dropped" },
    killGraceMs: { type: "integer", minimum: 0, maximum: 60000, default: 1000, description: "after cancel or timeout: SIGTERM, this long, then SIGKILL" },
    captureStdout: { type: "boolean", default: false, description: "also return the last 64 KiB of stdout as output \"stdout\", from the first whole line in it (a cut never splits a line, so never a secret on it)" },
  },
  anyOf: [{ required: ["command"] }, { required: ["script", "interpreter"] }],
};
