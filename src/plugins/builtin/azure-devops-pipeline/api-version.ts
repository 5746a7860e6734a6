// Which Azure DevOps REST API version the plugin asks for. Azure DevOps Services takes 7.1;
// Azure DevOps Server 2022 supports up to 7.0 and Server 2020 up to 6.0 (learn.microsoft.com,
// "REST API versioning"), and refuses a newer one with 400 VssVersionOutOfRangeException. The
// Pipelines Runs API exists from 6.0, there only as the preview 6.0-preview.1 (the Builds API,
// for the timeline and the cancel, is released in 6.0). Server 2019 and older have no Runs API.

/** The versions the `apiVersion` input offers, newest first. */
export const API_VERSIONS = ["7.1", "7.0", "6.0"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** The `api-version` query for each API area the plugin calls. */
export interface AreaVersions {
  /** …/_apis/pipelines/…: Runs - Run Pipeline, Runs - Get. */
  pipelines: string;
  /** …/_apis/build/…: Timeline - Get, Builds - Update Build. */
  build: string;
}

export function areaVersions(version: ApiVersion): AreaVersions {
  return version === "6.0" ? { pipelines: "api-version=6.0-preview.1", build: "api-version=6.0" } : { pipelines: `api-version=${version}`, build: `api-version=${version}` };
}

/**
 * After a 400 answer to the run request: when the server refused the version as out of its range,
 * the newest offered version it says it supports (its message names its latest: "The latest REST
 * API version this server supports is 7.0."), or undefined (another refusal, or none fits).
 */
export function versionTheServerTakes(body: unknown, refused: ApiVersion): ApiVersion | undefined {
  const answer = body as { typeKey?: unknown; message?: unknown } | undefined;
  if (answer?.typeKey !== "VssVersionOutOfRangeException") return undefined;
  const latest = typeof answer.message === "string" ? /supports is (\d+\.\d+)/.exec(answer.message)?.[1] : undefined;
  if (latest === undefined) return undefined;
  return API_VERSIONS.find((v) => Number(v) <= Number(latest) && Number(v) < Number(refused));
}
