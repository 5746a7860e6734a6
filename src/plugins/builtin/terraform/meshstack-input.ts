// A meshStack TERRAFORM run as the meshStack adapter hands it over (src/controller/meshstack/
// implementations.ts: behavior, inputs, environment, implementation with secrets decrypted),
// turned into this plugin's own input: the building block's inputs become variables, its
// environment inputs environment variables, the repository the module source. An async run's
// module reports to meshStack itself: it gets the run's register/update URLs and run token as
// environment variables (MESHSTACK_*) and as Terraform variables (TF_VAR_meshstack_*, which a
// module that declares no such variable ignores); the token is masked like every run token.
// An APPLY after a DETECT carries the approved plan (`planArtifact`, base64, downloaded by the
// adapter): it becomes `approvedPlan`, which the plugin applies as it is.

import { EdgeError } from "../../../errors.ts";
import { callbackVariables } from "../callback-info.ts";
import { implementationFields, type MeshstackRun } from "../meshstack-run.ts";
import { quotedValue } from "../quoted-value.ts";
import type { TerraformInput } from "./plugin.ts";

export function fromMeshstack(run: MeshstackRun): TerraformInput {
  const field = implementationFields(run, "TERRAFORM");
  const url = field.required("repositoryUrl");
  const path = field.optional("repositoryPath")?.replace(/^\.?\/+/, "");
  if (path !== undefined && path.split("/").includes("..")) throw new EdgeError("input_invalid", `Cannot use implementation.repositoryPath ${quotedValue(path, 200)}: it must stay inside the repository`);
  const environment = run.environment ?? {};
  const variables: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(run.inputs ?? {})) if (!Object.hasOwn(environment, key)) variables[key] = value;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) env[key] = typeof value === "string" ? value : JSON.stringify(value);
  if (run.async === true) Object.assign(env, asyncEnvironment(run));
  const module: TerraformInput["module"] = { git: url };
  const ref = field.optional("refName"), key = field.optional("sshPrivateKey"), hosts = field.optional("knownHost");
  if (ref !== undefined) module.ref = ref;
  if (path !== undefined && path !== "") module.path = path;
  if (key !== undefined) module.sshKey = key;
  if (hosts !== undefined) module.knownHosts = hosts;
  // The adapter puts it beside the run's fields (implementations.ts prepareRun), only for an APPLY.
  const planArtifact = (run as MeshstackRun & { planArtifact?: unknown }).planArtifact;
  return { module, variables, env, planInOutput: true, ...(planArtifact === undefined ? {} : { approvedPlan: planArtifact as string }) };
}

/** What an async run's module needs to report back: MESHSTACK_* and TF_VAR_meshstack_* (lower case). */
function asyncEnvironment(run: MeshstackRun): Record<string, string> {
  const { registerSourceUrl, updateSourceUrl, runToken, runUuid } = run.meshstack;
  if (typeof registerSourceUrl !== "string" || typeof updateSourceUrl !== "string" || typeof runToken !== "string") {
    throw new EdgeError("input_invalid", "Cannot run a meshStack TERRAFORM run in async mode: the run carries no register/update URLs and run token");
  }
  const vars = callbackVariables({ kind: "meshstack", registerSourceUrl, updateSourceUrl, runToken, runUuid: String(runUuid ?? "") });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    env[name] = value;
    env[`TF_VAR_${name.toLowerCase()}`] = value;
  }
  return env;
}
