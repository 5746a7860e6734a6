// The runner's calls other than the controller's on Node behind a forward proxy
// (src/platform/outbound-fetch.ts): outbound-fetch.cases.ts, bundled for Node and run with
// `node`, makes them as the Node runner does, against names only the fake proxy resolves (a call
// that went direct fails), and reports what the proxy saw. On Bun and Deno the runtime's own fetch
// takes the proxy (native-proxy.test.ts holds Bun to that).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { makePrivateCa } from "../helpers/private-ca.ts";

const PASSWORD = "0utb0und-pr0xy-Pw-5";
const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-outbound-fetch-"));
let results: Record<string, any>;
let output = "";

beforeAll(async () => {
  const ca = makePrivateCa(dir, ["api.proxy.test", "other.proxy.test", "plugin.proxy.test", "mesh.proxy.test", "admin.proxy.test"]);
  const built = await Bun.build({ entrypoints: [path.join(import.meta.dir, "outbound-fetch.cases.ts")], outdir: dir, target: "node", format: "esm", naming: "cases.mjs" });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  const noProxy = { HTTP_PROXY: "", HTTPS_PROXY: "", http_proxy: "", https_proxy: "", NO_PROXY: "", no_proxy: "" };
  const env = { ...process.env, ...noProxy, CASE_PASSWORD: PASSWORD, CASE_CERT: ca.certFile, CASE_KEY: ca.keyFile, NODE_EXTRA_CA_CERTS: ca.caFile };
  const proc = Bun.spawn([process.env.NODE_BINARY ?? "node", path.join(dir, "cases.mjs")], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  output = stdout + stderr;
  if (code !== 0) throw new Error(`the cases exited ${code}:\n${output}`);
  results = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tunnelTo = (host: string) => expect.stringMatching(new RegExp(`^${host.replace(/\./g, "\\.")}:\\d+$`));

describe("the runner's outbound calls on Node go through HTTPS_PROXY/HTTP_PROXY", () => {
  test("GcpBackend: the token exchange and the secret read (plain http here) are each sent to the proxy absolute-form", () => {
    expect(results.gcp.result).toBe("gcp-through-proxy");
    expect(results.gcp.tunnels).toEqual([]);
    expect(results.gcp.plain.length).toBeGreaterThanOrEqual(2);
    expect(results.gcp.plain.every((t: string) => t.startsWith(`http://127.0.0.1:${results.gcpPort}/`))).toBe(true);
  });

  test("ApiClient (the GitHub, GitLab and Azure DevOps integrations), the http plugin, ctx.fetch, the meshStack client and the admin CLI's client each go through the proxy (https in a tunnel)", () => {
    expect(results.apiClient).toEqual({ result: 200, tunnels: [tunnelTo("api.proxy.test")], plain: [] });
    expect(results.httpPlugin.result).toBe(JSON.stringify({ ok: true, method: "POST", body: "hi" }));
    expect(results.httpPlugin.tunnels).toEqual([tunnelTo("plugin.proxy.test")]);
    expect(results.ctxFetch).toEqual({ result: 200, tunnels: [], plain: [expect.stringMatching(/^http:\/\/ctx\.proxy\.test:\d+\/plain$/)] });
    expect(results.meshstack).toEqual({ result: true, tunnels: [tunnelTo("mesh.proxy.test")], plain: [] });
    expect(results.admin).toEqual({ result: "DELETE", tunnels: [tunnelTo("admin.proxy.test")], plain: [] });
  });

  test("every request through the proxy carries its Proxy-Authorization", () => {
    expect(results.authorizations).toEqual([`Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`]);
  });
});

describe("outboundFetch() on Node behind a proxy behaves as fetch", () => {
  test("outboundFetch() follows a redirect (and says so in url and redirected), and turns a POST answered 303 into a GET without its body", () => {
    expect(results.redirect.result).toMatchObject({ status: 200, redirected: true, url: expect.stringMatching(/^https:\/\/api\.proxy\.test:\d+\/answer$/), body: { method: "GET" } });
    expect(results.seeOther.result).toMatchObject({ status: 200, last: { method: "GET", path: "/after", body: "", type: null } });
  });

  test("outboundFetch() drops the Authorization header on a redirect to another origin", () => {
    expect(results.crossOrigin.result).toEqual([
      { host: "api.proxy.test", path: "/redirect", authorization: "Bearer not-for-other" },
      { host: "other.proxy.test", path: "/elsewhere", authorization: null },
    ]);
    expect(results.crossOrigin.tunnels).toEqual([tunnelTo("api.proxy.test"), tunnelTo("other.proxy.test")]);
  });

  test("outboundFetch() with redirect \"error\" rejects a redirect, and with \"manual\" hands it back", () => {
    expect(results.redirectError).toMatchObject({ name: "TypeError", rejected: expect.stringContaining("unexpected redirect (302)") });
    expect(results.manual).toBe(302);
  });

  test("outboundFetch() sends a form with its content type, takes a Request as input, and decodes a gzip answer", () => {
    expect(results.form).toMatchObject({ method: "POST", body: "a=1&b=two", type: "application/x-www-form-urlencoded;charset=UTF-8" });
    expect(results.request).toMatchObject({ method: "PUT", path: "/request", body: "from a Request", authorization: "Bearer r", type: "text/plain;charset=UTF-8" });
    expect(results.gzip).toBe("unzipped text");
  });

  test("outboundFetch() goes direct where NO_PROXY names the host", () => {
    expect(results.noProxy).toEqual({ result: 200, tunnels: [], plain: [] });
  });

  test("outboundFetch(): a proxy that answers 407 fails the call naming the proxy, never its password", () => {
    expect(results.refused).toMatchObject({ name: "ProxyTunnelError", rejected: expect.stringMatching(/through proxy "http:\/\/127\.0\.0\.1:\d+" \(from HTTPS_PROXY\): the proxy asks for credentials \(407\)/) });
    expect(output).not.toContain(PASSWORD);
  });
});
