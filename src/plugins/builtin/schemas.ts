// The built-in integrations' input schemas by plugin (and action, where actions differ), without
// their code: `job submit` checks an input here before sending it.

import type { JsonSchema } from "./input-schema.ts";
import { findInputProblem } from "./input-schema.ts";
import { AZURE_DEVOPS_PIPELINE_INPUT } from "./azure-devops-pipeline/schema.ts";
import { GITHUB_WORKFLOW_INPUT } from "./github-workflow/schema.ts";
import { GITLAB_PIPELINE_INPUT } from "./gitlab-pipeline/schema.ts";
import { MANUAL_INPUT } from "./manual/schema.ts";
import { SHELL_INPUT } from "./shell/schema.ts";
import { TERRAFORM_INPUT } from "./terraform/schema.ts";

/** `plugin` for every action, or `plugin:action` for one. */
export const INPUT_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  shell: SHELL_INPUT,
  manual: MANUAL_INPUT,
  terraform: TERRAFORM_INPUT,
  "github-workflow": GITHUB_WORKFLOW_INPUT,
  "gitlab-pipeline": GITLAB_PIPELINE_INPUT,
  "azure-devops-pipeline": AZURE_DEVOPS_PIPELINE_INPUT,
};

/** The schema for a built-in plugin's action, or undefined when it has none (echo, http, bundles). */
export function inputSchemaOf(plugin: string, action: string | undefined): JsonSchema | undefined {
  const name = plugin.split("@")[0] ?? plugin;
  const key = `${name}:${action ?? "default"}`;
  if (Object.hasOwn(INPUT_SCHEMAS, key)) return INPUT_SCHEMAS[key];
  return Object.hasOwn(INPUT_SCHEMAS, name) ? INPUT_SCHEMAS[name] : undefined;
}

/** The first problem of `input` for `plugin`'s `action`, or undefined (also when there is no schema). */
export function builtinInputProblem(plugin: string, action: string | undefined, input: unknown): string | undefined {
  const schema = inputSchemaOf(plugin, action);
  return schema === undefined ? undefined : findInputProblem(schema, input);
}
