// A meshStack TERRAFORM run as the meshStack adapter hands it over (src/controller/meshstack/
// implementations.ts: behavior, inputs, environment, implementation with secrets decrypted),
// turned into this plugin's own input: the building block's inputs become variables, its
// environment inputs environment variables, the repository the module source.

import { EdgeError } from "../../../errors.ts";
import type { TerraformInput } from "./plugin.ts";

interface MeshstackTerraformRun {
  meshstack: object;
  inputs?: Record<string, unknown>;
  environment?: Record<string, unknown>;
  implementation?: { repositoryUrl?: unknown; repositoryPath?: unknown; refName?: unknown; sshPrivateKey?: unknown; knownHost?: unknown };
}

export function isMeshstackRun(raw: unknown): raw is MeshstackTerraformRun {
  return raw !== null && typeof raw === "object" && typeof (raw as { meshstack?: unknown }).meshstack === "object";
}

export function fromMeshstack(run: MeshstackTerraformRun): TerraformInput {
  const impl = run.implementation ?? {};
  const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  const url = str(impl.repositoryUrl);
  if (url === undefined) throw new EdgeError("input_invalid", "Cannot run a meshStack TERRAFORM run: implementation.repositoryUrl is missing");
  const path = str(impl.repositoryPath)?.replace(/^\.?\/+/, "");
  if (path !== undefined && path.split("/").includes("..")) throw new EdgeError("input_invalid", `Cannot use implementation.repositoryPath "${path.slice(0, 200)}": it must stay inside the repository`);
  const environment = run.environment ?? {};
  const variables: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(run.inputs ?? {})) if (!Object.hasOwn(environment, key)) variables[key] = value;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) env[key] = typeof value === "string" ? value : JSON.stringify(value);
  const module: TerraformInput["module"] = { git: url };
  const ref = str(impl.refName), key = str(impl.sshPrivateKey), hosts = str(impl.knownHost);
  if (ref !== undefined) module.ref = ref;
  if (path !== undefined && path !== "") module.path = path;
  if (key !== undefined) module.sshKey = key;
  if (hosts !== undefined) module.knownHosts = hosts;
  return { module, variables, env };
}
