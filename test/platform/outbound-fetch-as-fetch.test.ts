// outboundFetch() on Node behind a forward proxy answers as Node's own fetch does
// (src/platform/outbound-fetch.ts and the node:http(s) path under it): outbound-fetch-as-fetch.cases.ts,
// bundled for Node and run with `node`, makes each call both ways against one loopback server.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-outbound-as-fetch-"));
let results: Record<string, any>;

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [path.join(import.meta.dir, "outbound-fetch-as-fetch.cases.ts")], outdir: dir, target: "node", format: "esm", naming: "cases.mjs" });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  const noProxy = { HTTP_PROXY: "", HTTPS_PROXY: "", http_proxy: "", https_proxy: "", NO_PROXY: "", no_proxy: "" };
  const proc = Bun.spawn([process.env.NODE_BINARY ?? "node", path.join(dir, "cases.mjs")], { env: { ...process.env, ...noProxy }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`the cases exited ${code}:\n${stdout}${stderr}`);
  results = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("outboundFetch() on Node behind a proxy", () => {
  test("outboundFetch() sends an http:// target to the proxy absolute-form with Proxy-Authorization, not through CONNECT (Squid's default refuses CONNECT but to 443)", () => {
    expect(results.squidLike.answer).toEqual({ ok: { method: "GET", contentLength: null, transferEncoding: null, body: "" } });
    expect(results.squidLike.seen).toEqual([
      { method: "GET", target: expect.stringMatching(/^http:\/\/plain\.proxy\.test:\d+\/echo\?x=1$/), proxyAuthorization: `Basic ${Buffer.from("u:squid-like-Pw-1").toString("base64")}` },
    ]);
  });

  test("proxyFetch(): a TLS handshake that never completes inside an open tunnel fails within the connect timeout", () => {
    expect(results.tlsStall.answer).toEqual({ error: expect.stringMatching(/^ProxyTunnelError: Cannot open a TLS connection to "api\.example\.test:443" through proxy "http:\/\/127\.0\.0\.1:\d+" \(from HTTPS_PROXY\): no TLS handshake in 0\.3 s$/) });
    expect(results.tlsStall.ms).toBeLessThan(3_000);
  });

  test("outboundFetch(): NO_PROXY naming the reserved .invalid TLD (.invalid, invalid, *.invalid) does not turn the proxy off for other hosts", () => {
    for (const noProxy of [".invalid", "invalid", "*.invalid"]) expect({ noProxy, ...results[`noProxy ${noProxy}`] }).toEqual({ noProxy, answer: { ok: 200 }, proxied: true });
  });

  test("outboundFetch(): a Request's body is sent with a Content-Length as fetch sends it, and again after a 307", () => {
    expect(results.requestBodyFraming.fetch).toEqual({ ok: { method: "POST", contentLength: "7", transferEncoding: null, body: '{"a":1}' } });
    expect(results.requestBodyFraming.outbound).toEqual(results.requestBodyFraming.fetch);
    expect(results.requestBody307.fetch).toEqual({ ok: { status: 200, body: "kept" } });
    expect(results.requestBody307.outbound).toEqual(results.requestBody307.fetch);
    expect(results.requestBody307.proxied).toBe(true);
  });

  test("outboundFetch() decodes answers as fetch does: an empty or truncated gzip, zlib and raw deflate, two codings, an unknown coding left as sent", () => {
    for (const name of ["gzipEmpty", "gzipTruncated", "deflate", "deflateRaw", "gzipThenBr", "unknownCoding"]) {
      expect({ name, fetch: results[name].fetch }).toEqual({ name, fetch: { ok: expect.any(String) } });
      expect({ name, outbound: results[name].outbound }).toEqual({ name, outbound: results[name].fetch });
    }
  });

  test("outboundFetch() does not send a caller's Host header on to another origin, as fetch does not", () => {
    expect(results.hostAcrossOrigins.fetch).toEqual({ ok: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(results.hostAcrossOrigins.outbound).toEqual(results.hostAcrossOrigins.fetch);
  });

  test("outboundFetch() refuses a URL with user:password, and a redirect to one, as fetch does (TypeError), never showing the password", () => {
    expect(results.urlWithCredentials.fetch).toEqual({ error: expect.stringMatching(/^TypeError: /) });
    expect(results.urlWithCredentials.outbound).toEqual({ error: expect.stringMatching(/^TypeError: Cannot fetch "http:\/\/localhost:\d+\/echo": the URL includes credentials/) });
    expect(results.redirectToCredentials.fetch).toEqual({ error: expect.stringMatching(/^TypeError: /) });
    expect(results.redirectToCredentials.outbound).toEqual({ error: expect.stringMatching(/^TypeError: Cannot fetch "http:\/\/localhost:\d+\/echo": the URL includes credentials/) });
    expect(JSON.stringify([results.urlWithCredentials.outbound, results.redirectToCredentials.outbound])).not.toContain("pw-in-");
  });

  test("outboundFetch()'s response.body is a byte stream as fetch's is (a BYOB reader works)", () => {
    expect(results.byobReader.fetch).toEqual({ ok: 8 });
    expect(results.byobReader.outbound).toEqual(results.byobReader.fetch);
    expect(results.largeBody.outbound).toEqual({ ok: 3 * 1024 * 1024 });
  });
});
