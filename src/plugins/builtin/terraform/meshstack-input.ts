// A meshStack TERRAFORM run as the meshStack adapter hands it over (src/controller/meshstack/
// implementations.ts: behavior, inputs, environment, implementation with secrets decrypted),
// turned into this plugin's own input: the building block's inputs become variables, its
// environment inputs environment variables, the repository the module source.

import { EdgeError } from "../../../errors.ts";
import { implementationFields, type MeshstackRun } from "../meshstack-run.ts";
import type { TerraformInput } from "./plugin.ts";

export function fromMeshstack(run: MeshstackRun): TerraformInput {
  const field = implementationFields(run, "TERRAFORM");
  const url = field.required("repositoryUrl");
  const path = field.optional("repositoryPath")?.replace(/^\.?\/+/, "");
  if (path !== undefined && path.split("/").includes("..")) throw new EdgeError("input_invalid", `Cannot use implementation.repositoryPath "${path.slice(0, 200)}": it must stay inside the repository`);
  const environment = run.environment ?? {};
  const variables: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(run.inputs ?? {})) if (!Object.hasOwn(environment, key)) variables[key] = value;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) env[key] = typeof value === "string" ? value : JSON.stringify(value);
  const module: TerraformInput["module"] = { git: url };
  const ref = field.optional("refName"), key = field.optional("sshPrivateKey"), hosts = field.optional("knownHost");
  if (ref !== undefined) module.ref = ref;
  if (path !== undefined && path !== "") module.path = path;
  if (key !== undefined) module.sshKey = key;
  if (hosts !== undefined) module.knownHosts = hosts;
  return { module, variables, env, planInOutput: true };
}
