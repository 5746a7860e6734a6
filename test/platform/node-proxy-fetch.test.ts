// The runner's controller calls on Node behind a forward proxy (src/platform/node-proxy-fetch.ts):
// node-proxy-fetch.cases.ts, bundled for Node and run with `node`, calls a loopback target
// through the fake proxy with the controller client as the Node runner makes it; this checks what
// it saw. On Node only: Bun and Deno give their own fetch the proxy (controller-client.ts).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const PASSWORD = "n0de-pr0xy-Pw-9";
const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-node-proxy-fetch-"));
let results: Record<string, any>;
let output = "";

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [path.join(import.meta.dir, "node-proxy-fetch.cases.ts")], outdir: dir, target: "node", format: "esm", naming: "cases.mjs" });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  const proc = Bun.spawn([process.env.NODE_BINARY ?? "node", path.join(dir, "cases.mjs")], { env: { ...process.env, CASE_PASSWORD: PASSWORD, HTTP_PROXY: "", HTTPS_PROXY: "", http_proxy: "", https_proxy: "", NO_PROXY: "", no_proxy: "" }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  output = stdout + stderr;
  if (code !== 0) throw new Error(`the cases exited ${code}:\n${output}`);
  results = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("proxyFetch() on Node, through controllerClient()", () => {
  test("proxyFetch() sends a plain-http GET to the proxy absolute-form with Proxy-Authorization, and hands back the status, every header value and the body", () => {
    expect(results.get).toMatchObject({ status: 201, many: "a, b", body: { method: "GET", coding: "identity" } });
    expect(results.get.via).toMatch(/^ \(through proxy "http:\/\/127\.0\.0\.1:\d+" from HTTP_PROXY\)$/);
    expect(results.targets.length).toBeGreaterThan(0);
    expect(results.targets.every((t: string) => /^http:\/\/127\.0\.0\.1:\d+\/[a-z]+$/.test(t))).toBe(true);
    expect(results.authorizations).toEqual([`Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`]);
  });

  test("proxyFetch() sends a string body with its length, and a stream chunked as it is read", () => {
    expect(results.postString).toMatchObject({ method: "POST", body: "héllo", length: "6", chunked: null });
    expect(results.postStream).toMatchObject({ method: "PUT", body: "one,two,three", length: null, chunked: "chunked" });
  });

  test("proxyFetch() answers 204 with no body", () => {
    expect(results.empty).toEqual({ status: 204, body: null });
  });

  test("proxyFetch() rejects with the signal's reason: aborted already, before the answer, and while the body is read", () => {
    expect(results.abortedAlready).toMatchObject({ name: "AbortError" });
    expect(results.abortBeforeAnswer).toMatchObject({ name: "TimeoutError" });
    expect(results.abortDuringBody).toMatchObject({ name: "AbortError" });
  });

  test("proxyFetch() fails a call whose socket stays silent past the idle timeout, before and during the body", () => {
    expect(results.idleBeforeAnswer.rejected).toMatch(/^no answer from "127\.0\.0\.1:\d+" for 0.3 s$/);
    expect(results.idleDuringBody.rejected).toMatch(/no answer from "127\.0\.0\.1:\d+"/);
  });

  test("controllerClient().openWebSocket() on Node opens a ws:// WebSocket through a CONNECT tunnel of the same agents", () => {
    expect(results.websocket).toMatchObject({ message: "echo hi", via: expect.stringContaining("from HTTP_PROXY") });
    expect(results.websocket.proxied).toEqual([expect.stringMatching(/^CONNECT 127\.0\.0\.1:\d+$/)]);
  });

  test("controllerClient() on Node goes direct where NO_PROXY names the host", () => {
    expect(results.direct).toEqual({ status: 201, proxied: 0 });
  });

  test("controllerClient() on Node: a proxy's 407 to a plain-http request is its answer (as Bun's and Deno's fetch hand it back), never showing the password", () => {
    expect(results.refused).toBe(407);
    expect(output).not.toContain(PASSWORD);
  });
});
