// The fake meshStack's check of a request's headers (meshstack-protocol.md, "Headers on every
// call"): the media type it answers in (Accept, else 406), the media type of a body (Content-Type,
// else 415) and the runner's identifying headers. meshStack serves Kotlin runners that omit
// X-Meshcloud-Runner-Name and X-Block-Runner-Node-Id, so a missing one is a violation the tests
// see, not a refusal.

import type { IncomingHttpHeaders } from "node:http";

export const RUN_MEDIA_TYPE = "application/vnd.meshcloud.api.meshbuildingblockrun.v1.hal+json";
export const RUNNER_MEDIA_TYPE = "application/vnd.meshcloud.api.meshbuildingblockrunner.v1-preview.hal+json";

export interface HeaderExpectation {
  /** The media type the answer comes in: Accept must list it. */
  accept: string;
  /** The media type a request with a body must declare; undefined: the call has no body. */
  contentType?: string;
}

export interface HeaderVerdict {
  /** 406 (Accept), 415 (Content-Type), or undefined when meshStack would answer the call. */
  status?: 406 | 415;
  problems: string[];
}

/** The media types an Accept or Content-Type header names, without parameters and in lower case. */
function mediaTypes(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(",").map((part) => (part.split(";")[0] ?? "").trim().toLowerCase()).filter((t) => t !== "");
}

export function checkHeaders(method: string, headers: IncomingHttpHeaders, expect: HeaderExpectation): HeaderVerdict {
  const problems: string[] = [];
  let status: 406 | 415 | undefined;
  if (!mediaTypes(headers.accept).includes(expect.accept)) {
    problems.push(`Accept "${String(headers.accept)}" does not list ${expect.accept}`);
    status = 406;
  }
  const bodyType = mediaTypes(headers["content-type"])[0];
  if (expect.contentType !== undefined && method !== "GET" && bodyType !== expect.contentType) {
    problems.push(`Content-Type "${String(headers["content-type"])}" is not ${expect.contentType}`);
    status ??= 415;
  }
  if (!/^[^\s/]+\/\S+$/.test(headers["user-agent"] ?? "")) problems.push(`User-Agent "${String(headers["user-agent"])}" is not <name>/<version>`);
  for (const name of ["x-meshcloud-runner-name", "x-meshcloud-runner-version", "x-block-runner-node-id"]) {
    const value = headers[name];
    if (typeof value !== "string" || value === "") problems.push(`missing ${name}`);
  }
  return status === undefined ? { problems } : { status, problems };
}
