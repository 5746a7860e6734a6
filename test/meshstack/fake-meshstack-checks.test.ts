// The fake meshStack's own checks: what it refuses must be what meshstack-protocol.md says
// meshStack refuses, or a drift in the runner's requests would pass unseen (or a correct request
// fail). The bodies the runner builds are checked by every adapter test (adapter-bed.ts).

import { afterEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { MeshstackClient } from "../../src/controller/meshstack/api-client.ts";
import { checkHeaders, RUN_MEDIA_TYPE } from "./fake-meshstack-headers.ts";
import { checkClaimBody, checkLoginBody, checkRegisterBody, checkUpdateBody } from "./fake-meshstack-bodies.ts";
import { FakeMeshstack } from "./fake-meshstack.ts";

const runnerHeaders = { "user-agent": "edge-runner/1.0.0", "x-meshcloud-runner-name": "edge-runner", "x-meshcloud-runner-version": "1.0.0", "x-block-runner-node-id": "n1" };
const update = (body: unknown) => checkUpdateBody(JSON.stringify(body));
const register = (body: unknown) => checkRegisterBody(JSON.stringify(body));

describe("checkHeaders()", () => {
  test("checkHeaders() takes the run media type, with parameters or in a list", () => {
    expect(checkHeaders("PATCH", { ...runnerHeaders, accept: RUN_MEDIA_TYPE, "content-type": RUN_MEDIA_TYPE }, { accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE })).toEqual({ problems: [] });
    expect(checkHeaders("PATCH", { ...runnerHeaders, accept: `application/json, ${RUN_MEDIA_TYPE}`, "content-type": `${RUN_MEDIA_TYPE}; charset=utf-8` }, { accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }).status).toBeUndefined();
  });

  test("checkHeaders() answers 406 for an Accept without the media type and 415 for another Content-Type", () => {
    expect(checkHeaders("PATCH", { ...runnerHeaders, accept: "application/json", "content-type": RUN_MEDIA_TYPE }, { accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }).status).toBe(406);
    expect(checkHeaders("PATCH", { ...runnerHeaders, accept: RUN_MEDIA_TYPE, "content-type": "application/json" }, { accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }).status).toBe(415);
    expect(checkHeaders("PATCH", { ...runnerHeaders, accept: RUN_MEDIA_TYPE }, { accept: RUN_MEDIA_TYPE, contentType: RUN_MEDIA_TYPE }).status).toBe(415);
  });

  test("checkHeaders() notes a missing runner header without refusing the call (Kotlin runners omit two)", () => {
    const verdict = checkHeaders("GET", { accept: RUN_MEDIA_TYPE, "user-agent": "curl" }, { accept: RUN_MEDIA_TYPE });
    expect(verdict.status).toBeUndefined();
    expect(verdict.problems.join("\n")).toContain("User-Agent");
    expect(verdict.problems.join("\n")).toContain("x-block-runner-node-id");
  });
});

describe("request bodies", () => {
  const step = { id: "manual", displayName: "Manual", status: "PENDING" };

  test("checkRegisterBody() takes the documented shape, Go's and Kotlin's source ids, and Go's null status", () => {
    expect(register({ source: { id: "r1", externalRunId: "1", externalRunUrl: "https://ci/1" }, steps: [step] })).toEqual({ refused: [], unknown: [] });
    expect(register({ source: { id: "r1", externalId: "1" }, steps: [{ id: "s", displayName: "S", status: null }] })).toEqual({ refused: [], unknown: [] });
  });

  test("checkRegisterBody() refuses a missing source id, steps that are not a list, a step without displayName or with an unknown status", () => {
    expect(register({ source: {}, steps: [] }).refused).toEqual(["register.source.id is missing"]);
    expect(register({ source: { id: "r1" }, steps: {} }).refused).toEqual(["register.steps is not an array"]);
    expect(register({ source: { id: "r1" }, steps: [{ id: "s" }] }).refused).toEqual(["register.steps[0].displayName is missing"]);
    expect(register({ source: { id: "r1" }, steps: [{ ...step, status: "RUNNING" }] }).refused[0]).toContain('"RUNNING" is not one of');
    expect(register({ source: { id: "r1" }, steps: [], extra: 1 }).unknown).toEqual(["register.extra is not a field meshStack knows"]);
  });

  test("checkUpdateBody() takes a final update with outputs of each type, a DETECT plan, and a sensitive output's ciphertext", () => {
    const outputs = {
      s: { value: "x", type: "STRING", isSensitive: false },
      i: { value: 3, type: "INTEGER", isSensitive: false },
      b: { value: false, type: "BOOLEAN", isSensitive: false },
      c: { value: "[1]", type: "CODE", isSensitive: false },
      secret: { value: "bWVzaA==", type: "INTEGER", isSensitive: true },
    };
    expect(update({ status: "SUCCEEDED", summary: "ok", artifact: "cGxhbg==", changesDetected: true, steps: [{ id: "t", displayName: "T", status: "SUCCEEDED", userMessage: "u", systemMessage: "s", outputs }] })).toEqual({ refused: [], unknown: [] });
    expect(update({ steps: [{ id: "t", systemMessage: "log" }] })).toEqual({ refused: [], unknown: [] });
  });

  test("checkUpdateBody() refuses the run status PENDING, an unknown status, missing steps, an output without isSensitive or with a value that does not fit its type", () => {
    expect(update({ status: "PENDING", steps: [] }).refused[0]).toContain('update.status "PENDING"');
    expect(update({ status: "DONE", steps: [] }).refused[0]).toContain('update.status "DONE"');
    expect(update({ status: "FAILED" }).refused).toEqual(["update.steps is not an array"]);
    expect(update({ steps: [{ id: "t", outputs: { a: { value: 1, type: "INTEGER" } } }] }).refused).toEqual(["update.steps[0].outputs.a.isSensitive is missing"]);
    expect(update({ steps: [{ id: "t", outputs: { a: { value: ["x"], type: "CODE", isSensitive: false } } }] }).refused[0]).toContain("is not a CODE value");
    expect(update({ steps: [{ id: "t", outputs: { a: { value: 1.5, type: "STRING", isSensitive: false } } }] }).refused[0]).toContain("is not a STRING value");
    expect(update({ steps: [{ id: "t", outputs: { a: { value: "x", type: "LIST", isSensitive: false } } }] }).refused[0]).toContain('"LIST" is not one of');
    expect(update({ steps: [], artifact: "not base64!" }).refused).toEqual(["update.artifact is not base64"]);
    expect(update({ steps: [{ id: "t", sumary: "x" }] }).unknown).toEqual(["update.steps[0].sumary is not a field meshStack knows"]);
  });

  test("checkLoginBody() and checkClaimBody() take only the login's two strings and an empty claim", () => {
    expect(checkLoginBody(JSON.stringify({ clientId: "c", clientSecret: "s" }))).toEqual({ refused: [], unknown: [] });
    expect(checkLoginBody(JSON.stringify({ clientId: "c" })).refused).toEqual(["login.clientSecret is missing"]);
    expect(checkClaimBody("").refused).toEqual([]);
    expect(checkClaimBody("{}").refused).toEqual(["the claim has a body; it takes none"]);
  });
});

describe("FakeMeshstack", () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  test("FakeMeshstack answers 406, 415 and 400 over HTTP as meshStack does, and records each refusal", async () => {
    const publicKeyPem = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }) as string;
    const fake = await new FakeMeshstack({ clientId: "c", clientSecret: "s", publicKeyPem }).start();
    stops.push(() => fake.stop());
    const uuid = fake.addRun({ type: "MANUAL" });
    const client = new MeshstackClient({ baseUrl: fake.url, auth: { kind: "apiKey", clientId: "c", clientSecret: "s" }, runnerName: "edge-runner", runnerVersion: "t", nodeId: "n" });
    await client.claim(fake.runnerUuid);
    const url = `${fake.url}/api/meshobjects/meshbuildingblockruns/${uuid}/status/source`;
    const headers = { ...client.headers(), Authorization: `Bearer ${fake.run(uuid).runToken}` };
    const send = (init: { method: string; headers: Record<string, string>; body: unknown }) => fetch(init.method === "POST" ? url : `${url}/${fake.runnerUuid}`, { method: init.method, headers: init.headers, body: JSON.stringify(init.body) });
    expect((await send({ method: "POST", headers: { ...headers, Accept: "application/json" }, body: { source: { id: fake.runnerUuid }, steps: [] } })).status).toBe(406);
    expect((await send({ method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: { source: { id: fake.runnerUuid }, steps: [] } })).status).toBe(415);
    expect((await send({ method: "POST", headers, body: { source: { id: fake.runnerUuid } } })).status).toBe(400);
    expect((await send({ method: "POST", headers, body: { source: { id: fake.runnerUuid }, steps: [] } })).status).toBe(200);
    const refused = await send({ method: "PATCH", headers, body: { status: "PENDING", steps: [] } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toContain("PENDING");
    expect(fake.refusals.map((r) => r.status)).toEqual([406, 415, 400, 400]);
    expect(fake.run(uuid).updates).toEqual([]);
  });
});
