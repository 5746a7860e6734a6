// The Vault transport in the bundle, on Node and Deno, behind a forward proxy:
// vault-proxy-bundle.cases.ts, built for Node and run with `node` and with `deno`, calls a Vault
// only the fake proxy can reach (a name only it resolves), over https and plain http; this checks
// the calls went through it and left no connection open there. vault-proxy.test.ts does it on Bun.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-vault-proxy-bundle-"));
const bundle = path.join(dir, "cases.mjs");
const runtimes = {
  node: [process.env.NODE_BINARY ?? "node", bundle],
  deno: [fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url)), "run", "-A", "--quiet", bundle],
};
const results: Record<string, Record<string, any>> = {};

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [path.join(import.meta.dir, "vault-proxy-bundle.cases.ts")], outdir: dir, target: "node", format: "esm", naming: "cases.mjs" });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  for (const [runtime, command] of Object.entries(runtimes)) {
    const proc = Bun.spawn(command, { env: { ...process.env, HTTP_PROXY: "", HTTPS_PROXY: "", http_proxy: "", https_proxy: "", NO_PROXY: "", no_proxy: "" }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`the cases on ${runtime} exited ${code}:\n${stdout}${stderr}`);
    results[runtime] = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  }
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

for (const runtime of Object.keys(runtimes)) {
  describe(`vaultTransport() on ${runtime} behind a forward proxy`, () => {
    test(`vaultTransport() on ${runtime} reaches an https Vault only the proxy can reach, through one CONNECT tunnel per call, closed after it`, () => {
      expect(results[runtime]?.https).toEqual({ statuses: [200, 200, 200], targets: Array(3).fill(expect.stringMatching(/^vault\.proxy-only\.test:\d+$/)), leftOpen: 0 });
    });

    test(`vaultTransport() on ${runtime} sends a plain-http Vault call to the proxy with its absolute URL, and keeps no connection there`, () => {
      expect(results[runtime]?.http).toEqual({ statuses: [200, 200, 200], targets: Array(3).fill(expect.stringMatching(/^http:\/\/vault\.proxy-only\.test:\d+\/v1\/kv\/data\/app$/)), leftOpen: 0 });
    });

    test(`vaultTransport() on ${runtime}: a Vault silent inside the tunnel fails the call at its deadline, and the tunnel is closed`, () => {
      expect(results[runtime]?.silent).toEqual({ rejected: "no answer within 500 ms", methods: ["CONNECT"], leftOpen: 0 });
    });
  });
}
