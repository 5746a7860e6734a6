// On Deno the runner leaves routing to Deno's fetch (src/platform/outbound-fetch.ts): it reads the
// proxy variables itself, and Deno.createHttpClient({ proxy }) cannot overrule it per URL (its
// NO_PROXY reading still applies, and no client goes direct while a variable is set). This holds
// Deno's reading, where it differs from the runner's rule (src/platform/proxy.ts), to what
// docs/operations.md says of it: a Deno upgrade that changes it fails here, and the docs follow.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { startForwardProxy, type ForwardProxy } from "../helpers/forward-proxy.ts";

const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-deno-proxy-reading-"));
const bundle = path.join(dir, "case.mjs");
const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
let proxy: ForwardProxy;
let port = 0;

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [path.join(import.meta.dir, "deno-proxy-reading.cases.ts")], outdir: dir, target: "node", format: "esm", naming: "case.mjs" });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  proxy = await startForwardProxy({});
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "::", resolve));
  port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  await proxy.close();
  rmSync(dir, { recursive: true, force: true });
});

async function route(extra: Record<string, string>, url: string): Promise<{ rule: string; deno: string }> {
  const before = proxy.requests.length;
  const clean = { HTTP_PROXY: "", HTTPS_PROXY: "", http_proxy: "", https_proxy: "", NO_PROXY: "", no_proxy: "" };
  const proc = Bun.spawn([deno, "run", "-A", "--quiet", bundle], { env: { ...process.env, ...clean, HTTP_PROXY: proxy.url, ...extra, CASE_PORT: String(port), CASE_URL: url }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const line = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { rule?: string; answer?: string };
  if (line.answer !== "answered") throw new Error(`the case did not answer: ${stdout}${stderr}`);
  return { rule: String(line.rule), deno: proxy.requests.length > before ? "proxy" : "direct" };
}

describe("outboundFetch() on Deno routes by Deno's own reading of the proxy variables", () => {
  test("outboundFetch() on Deno agrees with the rule on plain entries: a name (and names under it), .domain, an IP, a CIDR, comma lists", async () => {
    expect(await route({ NO_PROXY: "localhost" }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "direct" });
    expect(await route({ NO_PROXY: ".localhost" }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "direct" });
    expect(await route({ NO_PROXY: "other.example, 127.0.0.1" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "direct" });
    expect(await route({ NO_PROXY: "127.0.0.0/8" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "direct" });
    expect(await route({ NO_PROXY: "::1" }, `http://[::1]:${port}/`)).toEqual({ rule: "direct", deno: "direct" });
    expect(await route({ NO_PROXY: "other.example" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "proxy", deno: "proxy" });
  }, 60_000);

  test("outboundFetch() on Deno sends through the proxy what the rule sends direct: *, *.domain, host:port, [::1], upper case, a trailing dot, a space-separated list", async () => {
    expect(await route({ NO_PROXY: "*" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: "*.localhost" }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: `localhost:${port}` }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: `127.0.0.1:${port}` }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: "[::1]" }, `http://[::1]:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: "LOCALHOST" }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: "localhost." }, `http://localhost:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ NO_PROXY: "other.example 127.0.0.1" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
  }, 60_000);

  test("outboundFetch() on Deno lets NO_PROXY and HTTP_PROXY win over no_proxy and http_proxy (the rule: the lower case wins)", async () => {
    expect(await route({ no_proxy: "127.0.0.1", NO_PROXY: "other.example" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "direct", deno: "proxy" });
    expect(await route({ no_proxy: "other.example", NO_PROXY: "127.0.0.1" }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "proxy", deno: "direct" });
    expect(await route({ http_proxy: "http://127.0.0.1:9", HTTP_PROXY: proxy.url }, `http://127.0.0.1:${port}/`)).toEqual({ rule: "proxy", deno: "proxy" });
  }, 60_000);
});
