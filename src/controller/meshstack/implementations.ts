// What runs a meshStack run: the implementation type picks a built-in plugin (or the operator's
// choice from `meshstackPlugins`), the behavior picks its action, and the plugin's input is built
// from the run with sensitive inputs and the implementation's own secrets decrypted. Decrypted
// values are registered with the run's redaction scope before anything else sees them.

import type { KeyObject } from "node:crypto";
import { EdgeError, errorMessage } from "../../errors.ts";
import { decryptMeshstackBytes, decryptMeshstackInput, MESHSTACK_DECRYPTED_TYPES } from "../../secrets/meshstack-decrypt.ts";
import type { ImplementationType, MeshstackRun } from "./run-document.ts";
import { SensitiveParts } from "../../secrets/redaction/sensitive-parts.ts";
import { runObject } from "./run-object.ts";

export interface PluginChoice {
  plugin: string;
  /** The plugin action; default: the behavior in lower case (apply, detect, destroy). */
  action?: string;
}

/** The built-in integration plugin behind each implementation type (issue 12's plugins). */
export const DEFAULT_PLUGINS: Record<ImplementationType, PluginChoice> = {
  MANUAL: { plugin: "manual" },
  TERRAFORM: { plugin: "terraform" },
  GITHUB_WORKFLOW: { plugin: "github-workflow" },
  GITLAB_CICD: { plugin: "gitlab-pipeline" },
  AZURE_DEVOPS: { plugin: "azure-devops-pipeline" },
};

/** The implementation's own secrets, encrypted like sensitive inputs. */
export const IMPLEMENTATION_SECRETS: Record<ImplementationType, readonly string[]> = {
  MANUAL: [],
  TERRAFORM: ["sshPrivateKey"],
  GITHUB_WORKFLOW: ["appPem"],
  GITLAB_CICD: ["pipelineTriggerToken"],
  AZURE_DEVOPS: ["personalAccessToken"],
};

/**
 * The types whose meshcloud runner hands the pipeline the run object (GitLab's MESHSTACK_RUN,
 * GitHub's buildingBlockRun). It holds the run token, which the others' plugins get only when
 * the run is async (meshstack.runToken).
 */
const RUN_OBJECT_TYPES: ReadonlySet<ImplementationType> = new Set(["GITHUB_WORKFLOW", "GITLAB_CICD"]);

/** Step ids and names meshcloud's runners register for each type. */
export const MAIN_STEP: Record<ImplementationType, { id: string; displayName: string }> = {
  MANUAL: { id: "manual", displayName: "Manual Block Run" },
  TERRAFORM: { id: "terraform", displayName: "Terraform" },
  GITHUB_WORKFLOW: { id: "github-workflow", displayName: "GitHub workflow" },
  GITLAB_CICD: { id: "gitlab-pipeline", displayName: "GitLab pipeline" },
  AZURE_DEVOPS: { id: "azure-devops-pipeline", displayName: "Azure DevOps pipeline" },
};

export interface PreparedRun {
  plugin: string;
  action: string;
  input: Record<string, unknown>;
  /**
   * The run's decrypted secrets by reference, for `ctx.secrets.get(ref)`:
   * `meshstack:implementation.<field>` and `meshstack:inputs.<key>`.
   */
  secrets: Record<string, string>;
  /** Async: the runner triggers and hands off; the pipeline reports to meshStack itself. */
  async: boolean;
}

/** Decrypts with each key of the ring in turn; the first that works wins. */
function decryptWithRing(keys: readonly KeyObject[], decrypt: (key: KeyObject) => string, name: string): string {
  if (keys.length === 0) {
    throw new EdgeError("secret_undecryptable", `Cannot decrypt meshStack input "${name}": the runner has no private key (set runnerKeyFile or create one with "edge-runner keygen")`);
  }
  let last: unknown;
  for (const key of keys) {
    try {
      return decrypt(key);
    } catch (error) {
      last = error;
    }
  }
  throw new EdgeError(
    "secret_undecryptable",
    `${errorMessage(last)}. None of the runner's ${keys.length} private key(s) matches the public key registered in meshStack for this runner: register the runner's current certificate ("edge-runner keys cert") or start the runner with the registered key (--runner-key-file)`,
  );
}

/**
 * Every sensitive input decrypted (STRING, CODE, FILE; any other string value as text), and
 * registered: the plaintext whole, and the parts of a value that is not one text (a LIST or
 * object sent in clear, a number, decrypted JSON) one by one (sensitive-parts.ts).
 */
export function decryptInputs(run: MeshstackRun, keys: readonly KeyObject[], register: (secret: string) => void): Record<string, unknown> {
  // Keyed by meshStack's input keys: without a prototype, an input named "__proto__" is an input
  // like any other (on a plain object it replaced the object's prototype and was lost).
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const parts = new SensitiveParts(register, inputRefused);
  for (const input of run.inputs) {
    if (!input.isSensitive) {
      values[input.key] = input.value;
      continue;
    }
    if (typeof input.value !== "string") {
      // Sent in clear (meshStack encrypts text values only): the plugin gets it as it is.
      parts.inClear(input.key, input.value);
      values[input.key] = input.value;
      continue;
    }
    const value = input.value;
    const plain = MESHSTACK_DECRYPTED_TYPES.has(input.type)
      ? decryptWithRing(keys, (k) => decryptMeshstackInput(k, { key: input.key, type: input.type, value }), input.key)
      : decryptWithRing(keys, (k) => decryptMeshstackBytes(k, value, input.key).toString("utf8"), input.key);
    register(plain);
    parts.plaintext(input.key, plain);
    values[input.key] = plain;
  }
  return values;
}

/** `register` gets every decrypted value before anything else sees it (the run's redaction scope). */
export function prepareRun(run: MeshstackRun, keys: readonly KeyObject[], plugins: Partial<Record<ImplementationType, PluginChoice>>, extras: { planArtifact?: string; register: (secret: string) => void }): PreparedRun {
  const type = run.implementation.type;
  const inputs = decryptInputs(run, keys, extras.register);
  const secrets: Record<string, string> = {};
  for (const input of run.inputs) {
    const value = inputs[input.key];
    if (input.isSensitive && typeof value === "string") secrets[`meshstack:inputs.${input.key}`] = value;
  }
  const implementation: Record<string, unknown> = { ...run.implementation };
  for (const field of IMPLEMENTATION_SECRETS[type]) {
    const value = implementation[field];
    if (typeof value !== "string" || value === "") continue;
    const plain = decryptWithRing(keys, (k) => decryptMeshstackBytes(k, value, `implementation.${field}`).toString("utf8"), `implementation.${field}`);
    extras.register(plain);
    implementation[field] = plain;
    secrets[`meshstack:implementation.${field}`] = plain;
  }
  if (type === "GITLAB_CICD" || implementation.async === true) secrets["meshstack:runToken"] = run.runToken;
  const choice = plugins[type] ?? DEFAULT_PLUGINS[type];
  // GitLab pipelines are always async; the others say so in their definition.
  const async = type === "GITLAB_CICD" || implementation.async === true;
  const environment: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const input of run.inputs) if (input.isEnvironment) environment[input.key] = inputs[input.key];
  const input: Record<string, unknown> = {
    behavior: run.behavior,
    inputs,
    environment,
    inputTypes: Object.fromEntries(run.inputs.map((i) => [i.key, { type: i.type, isSensitive: i.isSensitive }])),
    // The same secrets by reference, for plugins that read credentials through ctx.secrets.
    secretRefs: Object.keys(secrets),
    implementation,
    // The inputs in meshStack's order with what each is, values decrypted.
    inputList: run.inputs.map((i) => ({ key: i.key, value: inputs[i.key] ?? null, type: i.type, isSensitive: i.isSensitive, isEnvironment: i.isEnvironment })),
    // The run as meshcloud's runners hand it to a pipeline (MESHSTACK_RUN, buildingBlockRun): it
    // holds the run token and the decrypted inputs, both already in the run's redaction scope.
    ...(RUN_OBJECT_TYPES.has(type) ? { runObject: runObject(run, inputs, new Set(IMPLEMENTATION_SECRETS[type])) } : {}),
    async,
    meshstack: {
      runUuid: run.uuid,
      runNumber: run.runNumber,
      buildingBlockUuid: run.buildingBlockUuid,
      workspace: run.workspace,
      ...(run.projectIdentifier === undefined ? {} : { projectIdentifier: run.projectIdentifier }),
      ...(run.fullPlatformIdentifier === undefined ? {} : { fullPlatformIdentifier: run.fullPlatformIdentifier }),
      // What an async pipeline needs to report back to meshStack itself.
      registerSourceUrl: run.pipelineLinks.registerSource,
      updateSourceUrl: run.pipelineLinks.updateSource,
      ...(run.links.self === undefined ? {} : { selfUrl: run.links.self }),
      ...(run.links.meshstackBaseUrl === undefined ? {} : { meshstackBaseUrl: run.links.meshstackBaseUrl }),
      ...(async ? { runToken: run.runToken } : {}),
    },
    ...(extras.planArtifact === undefined ? {} : { planArtifact: extras.planArtifact }),
  };
  // A custom plugin (meshstackPlugins) may read the building block's inputs at the top level.
  const custom = plugins[type] !== undefined;
  return { plugin: choice.plugin, action: choice.action ?? run.behavior.toLowerCase(), input: custom ? { ...inputs, ...input } : input, secrets, async };
}

/** Parses `meshstackPlugins`: JSON mapping an implementation type to "plugin[@version]" or {plugin, action}. */
export function parsePluginChoices(text: string | undefined, readFile: (path: string) => string): Partial<Record<ImplementationType, PluginChoice>> {
  if (text === undefined || text.trim() === "") return {};
  const source = text.trim().startsWith("{") ? text : readFile(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new EdgeError("config_invalid", `Cannot read "meshstackPlugins": not JSON (${errorMessage(error)})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new EdgeError("config_invalid", `Cannot read "meshstackPlugins": expected a JSON object`);
  const out: Partial<Record<ImplementationType, PluginChoice>> = {};
  for (const [type, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(type in DEFAULT_PLUGINS)) throw new EdgeError("config_invalid", `Cannot read "meshstackPlugins": unknown implementation type "${type.slice(0, 40)}" (known: ${Object.keys(DEFAULT_PLUGINS).join(", ")})`);
    const choice = typeof value === "string" ? { plugin: value } : (value as { plugin?: unknown; action?: unknown } | null);
    if (choice === null || typeof choice !== "object" || typeof choice.plugin !== "string" || choice.plugin === "" || (choice.action !== undefined && typeof choice.action !== "string")) {
      throw new EdgeError("config_invalid", `Cannot read "meshstackPlugins.${type}": expected "plugin[@version]" or {"plugin": "...", "action": "..."}`);
    }
    out[type as ImplementationType] = { plugin: choice.plugin, ...(typeof choice.action === "string" ? { action: choice.action } : {}) };
  }
  return out;
}

/** A sensitive input the runner cannot mask part by part: the run fails before its plugin starts. */
function inputRefused(key: string, why: string): EdgeError {
  return new EdgeError("input_invalid", `Cannot take sensitive meshStack input "${key.slice(0, 256)}": ${why}; the runner could not mask each of its parts, so the run is not started`);
}
