// Cases for src/secrets/references/vault-transport.ts in the bundle (vault-proxy-bundle.test.ts
// builds this file for Node and starts it with `node` and with `deno`): Vault under a name only
// the fake forward proxy resolves, over https (CONNECT tunnel, private CA) and plain http
// (absolute URI), the proxy's open connections once the calls are over, and a Vault silent
// inside the tunnel. Prints one JSON object of results.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { vaultTransport } from "../../src/secrets/references/vault-transport.ts";
import { startForwardProxy, type ForwardProxy } from "../helpers/forward-proxy.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";

const PROXY_ONLY = "vault.proxy-only.test";
const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-vault-node-"));
const made = makePrivateCa(dir, [PROXY_ONLY]);
const caPem = readFileSync(made.caFile, "utf8");
const answer = (_req: IncomingMessage, res: ServerResponse) => res.writeHead(200, { "content-type": "application/json" }).end('{"data":{"ok":true}}');
const secure = createTlsServer({ key: readFileSync(made.keyFile), cert: readFileSync(made.certFile) }, answer);
const plain = createServer(answer);
const silent = createTlsServer({ key: readFileSync(made.keyFile), cert: readFileSync(made.certFile) }, () => {});
for (const server of [secure, plain, silent]) await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const portOf = (server: { address(): unknown }) => (server.address() as AddressInfo).port;
const through = await startForwardProxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });

/** The proxy's open connections once they are all closed, or as many as are left after 2 s. */
async function leftOpen(proxy: ForwardProxy): Promise<number> {
  const deadline = Date.now() + 2000;
  while (proxy.openConnections() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return proxy.openConnections();
}

async function calls(uri: string, env: Record<string, string>, timeoutMs = 3000): Promise<Array<number | string>> {
  const send = vaultTransport({ caPem, timeoutMs, maxBytes: 10_000, env }).defaults(undefined);
  const seen: Array<number | string> = [];
  for (let i = 0; i < 3; i++) {
    try {
      seen.push((await send({ method: "GET", uri })).statusCode);
    } catch (error) {
      seen.push((error as Error).message);
    }
  }
  return seen;
}

const results: Record<string, unknown> = {};
try {
  results.https = { statuses: await calls(`https://${PROXY_ONLY}:${portOf(secure)}/v1/kv/data/app`, { HTTPS_PROXY: through.url }), targets: through.targets(), leftOpen: await leftOpen(through) };
  through.requests.length = 0;
  results.http = { statuses: await calls(`http://${PROXY_ONLY}:${portOf(plain)}/v1/kv/data/app`, { HTTP_PROXY: through.url }), targets: through.targets(), leftOpen: await leftOpen(through) };
  through.requests.length = 0;
  const send = vaultTransport({ caPem, timeoutMs: 500, maxBytes: 10_000, env: { HTTPS_PROXY: through.url } }).defaults(undefined);
  results.silent = await send({ method: "GET", uri: `https://${PROXY_ONLY}:${portOf(silent)}/v1/kv/data/app` }).then(
    (a) => ({ statusCode: a.statusCode }),
    async (error: Error) => ({ rejected: error.message, methods: through.requests.map((r) => r.method), leftOpen: await leftOpen(through) }),
  );
} finally {
  await through.close();
  for (const server of [secure, plain, silent]) {
    server.closeAllConnections();
    server.close();
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(results));
