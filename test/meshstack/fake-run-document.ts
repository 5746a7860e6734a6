// The run document the fake meshStack answers a claim with (meshstack-protocol.md, "The run"):
// sensitive inputs and the implementation's secrets encrypted to the runner's public key by the
// test's own implementation of meshStack's scheme, the links templated as meshStack's are.

import { randomUUID } from "node:crypto";
import type { FakeRun } from "./fake-meshstack.ts";
import { meshstackEncrypt } from "./meshstack-encrypt.ts";

const RUN_BASE = "/api/meshobjects/meshbuildingblockruns";

export function runDocument(run: FakeRun, server: { url: string; publicKeyPem: string }): unknown {
  const spec = run.spec;
  const encrypt = (value: unknown) => meshstackEncrypt(server.publicKeyPem, typeof value === "string" ? value : JSON.stringify(value));
  const inputs = (spec.inputs ?? []).map((i) => ({
    key: i.key,
    type: i.type,
    isSensitive: i.isSensitive ?? false,
    isEnvironment: i.isEnvironment ?? false,
    value: i.isSensitive === true ? encrypt(i.value) : i.value,
  }));
  for (const raw of spec.rawInputs ?? []) inputs.push({ isEnvironment: false, isSensitive: false, ...raw });
  const implementation: Record<string, unknown> = { type: spec.type, ...(spec.implementation ?? {}) };
  for (const field of spec.encryptFields ?? []) {
    if (implementation[field] !== undefined) implementation[field] = encrypt(implementation[field]);
  }
  const base = `${server.url}${RUN_BASE}/${run.uuid}`;
  return {
    apiVersion: "v1",
    kind: "meshBuildingBlockRun",
    metadata: { uuid: run.uuid },
    status: "IN_PROGRESS",
    spec: {
      runNumber: 1,
      behavior: spec.behavior ?? "APPLY",
      runToken: run.runToken,
      trigger: { reason: "MANUAL_EXECUTION", author: { identifier: "u1", type: "User", displayName: "Dev One", username: "dev1", email: "dev1@example.com", euid: "dev1" } },
      buildingBlock: {
        uuid: randomUUID(),
        spec: { displayName: "bb", workspaceIdentifier: spec.workspace ?? "ws-1", projectIdentifier: "p-1", fullPlatformIdentifier: "aws.default", inputs, parentBuildingBlocks: [] },
      },
      buildingBlockDefinition: { uuid: randomUUID(), spec: { workspaceIdentifier: "platform-ws", version: 1, implementation } },
    },
    _links: {
      self: { href: base },
      registerSource: { href: `${base}/status/source` },
      updateSource: { href: `${base}/status/source/{sourceId}`, templated: true },
      meshstackBaseUrl: { href: server.url },
      ...(spec.planArtifact === undefined ? {} : { planArtifact: { href: `${base}/artifact` } }),
    },
  };
}
