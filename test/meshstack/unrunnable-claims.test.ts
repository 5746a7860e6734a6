// Claimed runs this runner cannot take are reported FAILED to meshStack naming the field, not
// left IN_PROGRESS and not failed later with an error that names nothing.

import { afterEach, expect, test } from "bun:test";
import { runDoc, startScripted, until } from "./scripted-meshstack.ts";

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

const finalOf = (calls: Array<{ method: string; url: string; body?: string }>) => calls.find((c) => c.method === "PATCH" && c.body !== undefined && /"status":"(FAILED|SUCCEEDED)"/.test(c.body));

test("MeshstackConnection: a run whose implementation has a field nested 200,000 deep is reported FAILED naming the field", async () => {
  const depth = 200_000;
  const doc = JSON.stringify(runDoc("r-deep", { implementation: { type: "MANUAL", knownHost: "@@" } })).replace('"@@"', "[".repeat(depth) + "]".repeat(depth));
  const h = await startScripted({ claims: [() => new Response(doc, { status: 201, headers: { "content-type": "application/json" } })] });
  stop = h.stop;
  const final = await until(() => finalOf(h.calls), 8000);
  expect(final?.body).toContain('"FAILED"');
  expect(final?.body).toContain("spec.buildingBlockDefinition.spec.implementation.knownHost");
  expect(h.records.some((r) => r.msg.includes("Maximum call stack"))).toBe(false);
}, 20_000);

test("MeshstackConnection: a run whose uuid breaks the charset rule but whose token and links are fine is reported FAILED naming metadata.uuid, not left IN_PROGRESS", async () => {
  const doc = runDoc("run/1:x");
  const h = await startScripted({ claims: [() => Response.json(doc, { status: 201 })] });
  stop = h.stop;
  const final = await until(() => finalOf(h.calls), 5000);
  expect(final?.url).toBe(`${doc._links.updateSource.href.replace("{sourceId}", "runner-uuid-1")}`);
  expect(final?.body).toContain('"FAILED"');
  expect(final?.body).toContain("metadata.uuid");
  expect(h.records.some((r) => r.msg.includes("cannot be reported back"))).toBe(false);
}, 20_000);
