// A claimed meshStack run, checked field by field before anything uses it: the claim answer is
// untrusted input, so every string, list and link is bounded and a bad one is named.

import { EdgeError } from "../../errors.ts";
import { checkJsonBounds, describeJsonProblem, STORED_JSON_BOUNDS } from "../../util/json-bounds.ts";
import { headerUnsafeCharacter } from "../../util/header-value.ts";
import { builtLinks, callTarget } from "./run-links.ts";
import { runObjectFrame, type RunObjectFrame } from "./run-object.ts";

export const IMPLEMENTATION_TYPES = ["MANUAL", "TERRAFORM", "GITHUB_WORKFLOW", "GITLAB_CICD", "AZURE_DEVOPS"] as const;
export type ImplementationType = (typeof IMPLEMENTATION_TYPES)[number];
export const BEHAVIORS = ["APPLY", "DETECT", "DESTROY"] as const;
export type Behavior = (typeof BEHAVIORS)[number];

export interface RunInput {
  key: string;
  value: unknown;
  type: string;
  isSensitive: boolean;
  isEnvironment: boolean;
}

export interface MeshstackRun {
  uuid: string;
  runNumber: number;
  behavior: Behavior;
  runToken: string;
  buildingBlockUuid: string;
  displayName: string;
  workspace: string;
  projectIdentifier?: string;
  fullPlatformIdentifier?: string;
  inputs: RunInput[];
  implementation: Record<string, unknown> & { type: ImplementationType };
  /** Where the runner calls (run-links.ts: at the configured meshStack only). */
  links: { registerSource: string; updateSource: string; self?: string; planArtifact?: string; meshstackBaseUrl?: string };
  /**
   * Register and update as an async pipeline gets them: as meshStack wrote them (meshcloud's
   * runners hand a pipeline the run's links), but the runner's target for a plain http link.
   */
  pipelineLinks: { registerSource: string; updateSource: string };
  /** The origin of the links the runner calls at the configured base URL instead (run-links.ts), if any. */
  retargetedFrom?: string;
  trigger?: unknown;
  /** What else the run object handed to pipelines carries (run-object.ts). */
  frame: RunObjectFrame;
}

const MAX_INPUTS = 1000;
const MAX_KEY = 256;
const MAX_TEXT = 1024;
const MAX_LINK = 4096;
const MAX_TOKEN = 16_384;
/** An input's value (CODE, a list, a FILE's content) nests like a stored JSON value; its size is the claim answer's (8 MiB). */
const VALUE_BOUNDS = { maxDepth: STORED_JSON_BOUNDS.maxDepth, maxBytes: Number.MAX_SAFE_INTEGER };

type Obj = Record<string, unknown>;

class RunInvalid extends EdgeError {
  constructor(message: string) {
    super("protocol_error", `Cannot take the meshStack run: ${message}`);
  }
}

function obj(value: unknown, field: string): Obj {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new RunInvalid(`"${field}" is not an object`);
  return value as Obj;
}

function str(o: Obj, key: string, field: string, max = MAX_TEXT, optional = false): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (optional) return "";
    throw new RunInvalid(`"${field}" is missing`);
  }
  if (typeof v !== "string" || v.length > max) throw new RunInvalid(`"${field}" must be a string of at most ${max} characters`);
  return v;
}

/**
 * The run token: every call about the run sends it in a header, and the run's redaction scope
 * masks it, so it is visible ASCII (a JWT is) or the run is refused here, naming the field.
 */
function runTokenOf(spec: Obj): string {
  const token = str(spec, "runToken", "spec.runToken", MAX_TOKEN);
  const bad = headerUnsafeCharacter(token);
  if (bad !== undefined) throw new RunInvalid(`"spec.runToken" must be visible ASCII (it goes in a header); it holds ${bad}`);
  return token;
}

function link(links: Obj, name: string, optional: boolean): string | undefined {
  const l = links[name];
  if (l === undefined || l === null) {
    if (optional) return undefined;
    throw new RunInvalid(`"_links.${name}" is missing`);
  }
  const href = str(obj(l, `_links.${name}`), "href", `_links.${name}.href`, MAX_LINK);
  if (!/^https?:\/\//.test(href)) throw new RunInvalid(`"_links.${name}.href" is not an http(s) URL`);
  // meshcloud's Kotlin runner refuses it too: without the placeholder, updates go to the bare template.
  if (name === "updateSource" && !href.includes("{sourceId}")) throw new RunInvalid(`"_links.${name}.href" has no "{sourceId}" (where the runner's UUID goes)`);
  return href;
}

/** A link the runner calls with the run token: where it calls it (run-links.ts), or refused naming it. */
function callLink(links: Obj, name: string, baseUrl: string, optional: boolean): { href: string; url: string; from?: string } | undefined {
  const href = link(links, name, optional);
  if (href === undefined) return undefined;
  const target = callTarget(href, baseUrl);
  if ("problem" in target) throw new RunInvalid(`"_links.${name}.href" ${target.problem}`);
  return target.retargeted ? { href, url: target.url, from: new URL(href).origin } : { href, url: target.url };
}

/** A field's name as quoted in a message: as it is when it is a plain name, else its length only. */
function fieldName(key: string): string {
  return /^[A-Za-z_$][\w$-]{0,63}$/.test(key) ? key : `(a field whose name is ${key.length} characters)`;
}

/** The run a claim returned, or a `protocol_error` naming the bad field; `baseUrl`: the configured meshStack. */
export function parseRun(raw: unknown, baseUrl: string): MeshstackRun {
  const doc = obj(raw, "run");
  const metadata = obj(doc.metadata, "metadata");
  const uuid = str(metadata, "uuid", "metadata.uuid", 128);
  if (!/^[A-Za-z0-9._-]+$/.test(uuid)) throw new RunInvalid(`"metadata.uuid" has characters other than letters, digits, ".", "_" and "-"`);
  const spec = obj(doc.spec, "spec");
  const behavior = str(spec, "behavior", "spec.behavior", 16) as Behavior;
  if (!BEHAVIORS.includes(behavior)) throw new RunInvalid(`"spec.behavior" must be one of ${BEHAVIORS.join(", ")}`);
  const runToken = runTokenOf(spec);
  const runNumber = typeof spec.runNumber === "number" && Number.isSafeInteger(spec.runNumber) ? spec.runNumber : 0;
  const bb = obj(spec.buildingBlock, "spec.buildingBlock");
  const bbSpec = obj(bb.spec, "spec.buildingBlock.spec");
  const rawInputs = bbSpec.inputs ?? [];
  if (!Array.isArray(rawInputs) || rawInputs.length > MAX_INPUTS) throw new RunInvalid(`"spec.buildingBlock.spec.inputs" must be a list of at most ${MAX_INPUTS}`);
  const seen = new Set<string>();
  const inputs = rawInputs.map((item, i): RunInput => {
    const input = obj(item, `inputs[${i}]`);
    const key = str(input, "key", `inputs[${i}].key`, MAX_KEY);
    if (key === "") throw new RunInvalid(`"inputs[${i}].key" is empty`);
    if (seen.has(key)) throw new RunInvalid(`input "${key}" appears twice ("inputs[${i}].key")`);
    seen.add(key);
    // Before anything walks or clones it: a value nested past this would make the structured
    // clone to the plugin worker (and any JSON.stringify) overflow the stack.
    const problem = checkJsonBounds(input.value, VALUE_BOUNDS);
    if (problem !== undefined) throw new RunInvalid(describeJsonProblem(`inputs[${i}].value`, problem));
    return {
      key,
      value: input.value,
      type: str(input, "type", `inputs[${i}].type`, 32),
      isSensitive: input.isSensitive === true,
      isEnvironment: input.isEnvironment === true,
    };
  });
  const definition = obj(spec.buildingBlockDefinition, "spec.buildingBlockDefinition");
  const implementation = obj(obj(definition.spec, "spec.buildingBlockDefinition.spec").implementation, "implementation");
  // The implementation goes whole into the plugin's input: bounded like an input value, each
  // field named, before a structured clone to the plugin worker would overflow the stack.
  for (const key of Object.keys(implementation)) {
    const problem = checkJsonBounds(implementation[key], VALUE_BOUNDS);
    if (problem !== undefined) throw new RunInvalid(describeJsonProblem(`spec.buildingBlockDefinition.spec.implementation.${fieldName(key)}`, problem));
  }
  const type = str(implementation, "type", "implementation.type", 32) as ImplementationType;
  if (!IMPLEMENTATION_TYPES.includes(type)) throw new RunInvalid(`implementation type "${type}" ("implementation.type") is not one of ${IMPLEMENTATION_TYPES.join(", ")}`);
  const links = obj(doc._links, "_links");
  const registerSource = callLink(links, "registerSource", baseUrl, false) as { href: string; url: string; from?: string };
  const updateSource = callLink(links, "updateSource", baseUrl, false) as { href: string; url: string; from?: string };
  const planArtifact = callLink(links, "planArtifact", baseUrl, true);
  // Not called by the runner: a plugin may read it.
  const meshstackBaseUrl = link(links, "meshstackBaseUrl", true);
  const retargetedFrom = registerSource.from ?? updateSource.from ?? planArtifact?.from;
  const forPipeline = (l: { href: string; url: string }) => (l.href.startsWith("https://") ? l.href : l.url);
  // Handed to pipelines (buildingBlockRunUrl), never called by the runner.
  const self = link(links, "self", true);
  const run: MeshstackRun = {
    uuid,
    runNumber,
    behavior,
    runToken,
    buildingBlockUuid: str(bb, "uuid", "spec.buildingBlock.uuid", 128, true),
    displayName: str(bbSpec, "displayName", "spec.buildingBlock.spec.displayName", MAX_TEXT, true),
    workspace: str(bbSpec, "workspaceIdentifier", "spec.buildingBlock.spec.workspaceIdentifier", MAX_TEXT, true),
    inputs,
    implementation: { ...implementation, type },
    links: {
      registerSource: registerSource.url,
      updateSource: updateSource.url,
      ...(planArtifact === undefined ? {} : { planArtifact: planArtifact.url }),
      ...(self === undefined ? {} : { self }),
      ...(meshstackBaseUrl === undefined ? {} : { meshstackBaseUrl }),
    },
    pipelineLinks: { registerSource: forPipeline(registerSource), updateSource: forPipeline(updateSource) },
    frame: runObjectFrame(doc),
  };
  if (retargetedFrom !== undefined) run.retargetedFrom = retargetedFrom;
  const project = str(bbSpec, "projectIdentifier", "projectIdentifier", MAX_TEXT, true);
  if (project !== "") run.projectIdentifier = project;
  const platform = str(bbSpec, "fullPlatformIdentifier", "fullPlatformIdentifier", MAX_TEXT, true);
  if (platform !== "") run.fullPlatformIdentifier = platform;
  if (spec.trigger !== undefined) {
    const problem = checkJsonBounds(spec.trigger, VALUE_BOUNDS);
    if (problem !== undefined) throw new RunInvalid(describeJsonProblem("spec.trigger", problem));
    run.trigger = spec.trigger;
  }
  return run;
}

/**
 * What reporting needs from a run that `parseRun` refused (an implementation type this runner
 * does not know, a bad input, a link it does not call): its uuid, token and where to report,
 * or undefined when even the uuid or token is bad. Links the runner would not call for the run
 * are replaced by the register and update URLs meshcloud's Go runners build on the configured
 * base URL, so a run refused for its links is reported too, and the token goes nowhere else.
 */
export function reportableRun(raw: unknown, baseUrl: string): Pick<MeshstackRun, "uuid" | "runToken" | "links"> | undefined {
  let uuid: string;
  let runToken: string;
  try {
    const doc = obj(raw, "run");
    uuid = str(obj(doc.metadata, "metadata"), "uuid", "metadata.uuid", 128);
    // Outside parseRun's charset is still reportable (the outbox names its file by a hash): it
    // goes in no header or file name, and visible ASCII keeps it whole on one log line.
    if (uuid === "" || headerUnsafeCharacter(uuid) !== undefined) return undefined;
    runToken = runTokenOf(obj(doc.spec, "spec"));
  } catch {
    return undefined;
  }
  try {
    const links = obj((raw as Obj)._links, "_links");
    const registerSource = callLink(links, "registerSource", baseUrl, false)?.url as string;
    const updateSource = callLink(links, "updateSource", baseUrl, false)?.url as string;
    return { uuid, runToken, links: { registerSource, updateSource } };
  } catch {
    return { uuid, runToken, links: builtLinks(uuid, baseUrl) };
  }
}

/** The update URL for this runner: `{sourceId}` replaced by the runner UUID. */
export function updateUrl(run: Pick<MeshstackRun, "links">, runnerUuid: string): string {
  return run.links.updateSource.replace("{sourceId}", encodeURIComponent(runnerUuid));
}
