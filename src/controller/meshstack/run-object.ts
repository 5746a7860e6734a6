// The run object meshcloud's runners hand to a pipeline: the GitLab runner as the variable
// MESHSTACK_RUN, the GitHub runner as the workflow input `buildingBlockRun` (base64). It is the
// claimed run as meshcloud's Kotlin classes read and Jackson writes it again (ProcessableBlockRun):
// only the fields those classes know, in their order, nulls written out, sensitive inputs
// decrypted. One difference on purpose: the implementation's own secret (pipelineTriggerToken,
// appPem, ...) is left out, where meshcloud's GitLab runner passes it on still encrypted.

import type { ImplementationType, MeshstackRun } from "./run-document.ts";

type Obj = Record<string, unknown>;

/** What of the claimed run only the run object uses, taken (checked, bounded) when the run is parsed. */
export interface RunObjectFrame {
  status: string;
  definition: { uuid: string | null; workspaceIdentifier: string | null; version: number | null };
  parentBuildingBlocks: Array<{ buildingBlockUuid: string | null; definitionUuid: string | null }>;
  /** Every link of `_links`, as HalLink(href, templated). */
  links: Array<[name: string, link: { href: string; templated: boolean | null }]>;
}

const MAX_TEXT = 1024;
const MAX_LINK = 4096;
const MAX_PARENTS = 100;
const MAX_LINKS = 32;

/**
 * Each implementation type's fields as meshcloud's data class lists them (MeshBuildingBlockRun.kt).
 * GITHUB_WORKFLOW: none, its runner hides them all (IgnoreBuildingBlockGithubImplementationMixin).
 */
const IMPLEMENTATION_FIELDS: Record<ImplementationType, readonly string[]> = {
  MANUAL: [],
  TERRAFORM: ["terraformVersion", "repositoryUrl", "repositoryPath", "refName", "sshPrivateKey", "knownHost", "async", "useMeshHttpBackendFallback", "preRunScript"],
  GITHUB_WORKFLOW: [],
  GITLAB_CICD: ["gitlabBaseUrl", "projectId", "refName", "pipelineTriggerToken"],
  AZURE_DEVOPS: ["azureDevOpsBaseUrl", "organization", "project", "pipelineId", "personalAccessToken", "async", "refName"],
};

const text = (value: unknown, max = MAX_TEXT): string | null => (typeof value === "string" && value.length <= max ? value : null);
const object = (value: unknown): Obj => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {});

/** The frame of a run document parseRun() accepted; a field it cannot use reads as null, never fails. */
export function runObjectFrame(doc: Obj): RunObjectFrame {
  const spec = object(doc.spec);
  const definition = object(spec.buildingBlockDefinition);
  const definitionSpec = object(definition.spec);
  const parents = object(object(spec.buildingBlock).spec).parentBuildingBlocks;
  const version = definitionSpec.version;
  return {
    status: text(doc.status, 32) ?? "IN_PROGRESS",
    definition: {
      uuid: text(definition.uuid, 128),
      workspaceIdentifier: text(definitionSpec.workspaceIdentifier),
      version: typeof version === "number" && Number.isSafeInteger(version) ? version : null,
    },
    parentBuildingBlocks: (Array.isArray(parents) ? parents.slice(0, MAX_PARENTS) : []).map((p) => ({ buildingBlockUuid: text(object(p).buildingBlockUuid, 128), definitionUuid: text(object(p).definitionUuid, 128) })),
    links: Object.entries(object(doc._links)).slice(0, MAX_LINKS).flatMap(([name, raw]) => {
      const href = text(object(raw).href, MAX_LINK);
      const templated = object(raw).templated;
      return href === null || name.length > 64 ? [] : [[name, { href, templated: typeof templated === "boolean" ? templated : null }] as [string, { href: string; templated: boolean | null }]];
    }),
  };
}

/** The run object for `run`, its inputs' values (decrypted) by key, without the implementation's `secrets` fields. */
export function runObject(run: MeshstackRun, values: Readonly<Record<string, unknown>>, secrets: ReadonlySet<string>): Obj {
  const frame = run.frame;
  const type = run.implementation.type;
  const implementation: Obj = { type };
  for (const field of IMPLEMENTATION_FIELDS[type]) if (!secrets.has(field)) implementation[field] = run.implementation[field] ?? null;
  return {
    kind: "meshBuildingBlockRun",
    apiVersion: "v1",
    metadata: { uuid: run.uuid },
    spec: {
      runNumber: run.runNumber,
      buildingBlock: {
        uuid: run.buildingBlockUuid,
        spec: {
          displayName: run.displayName,
          workspaceIdentifier: run.workspace,
          projectIdentifier: run.projectIdentifier ?? null,
          fullPlatformIdentifier: run.fullPlatformIdentifier ?? null,
          inputs: run.inputs.map((input) => ({ key: input.key, value: values[input.key] ?? null, type: input.type, isSensitive: input.isSensitive, isEnvironment: input.isEnvironment })),
          parentBuildingBlocks: frame.parentBuildingBlocks,
        },
      },
      buildingBlockDefinition: { uuid: frame.definition.uuid, spec: { workspaceIdentifier: frame.definition.workspaceIdentifier, version: frame.definition.version, implementation } },
      behavior: run.behavior,
      runToken: run.runToken,
    },
    status: frame.status,
    _links: Object.fromEntries(frame.links),
  };
}
