// Vault behind an HTTP forward proxy: the runner's own Vault transport (which node-vault's client
// no longer does for it) goes through HTTPS_PROXY with a CONNECT tunnel and TLS to Vault with
// vaultCaFile, through HTTP_PROXY with the absolute URL, direct where NO_PROXY says so; the proxy's
// credentials go in Proxy-Authorization only; a proxy refusing the tunnel is named in the error.
// Vault under a name only the proxy resolves shows the call really went through it (a direct
// connection fails), and the proxy's count of open connections shows none is left per call.

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createServer as createTlsServer } from "node:https";
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { vaultTransport } from "../../src/secrets/references/vault-transport.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";
import { eventually, tempDir } from "../helpers/harness.ts";
import { makePrivateCa } from "../helpers/private-ca.ts";
import { startForwardProxy, type ForwardProxy, type ForwardProxyOptions } from "../helpers/forward-proxy.ts";
import { setEnv } from "../helpers/env.ts";

const PASSWORD = "vault-pr0xy-Pw-9";
/** A name no resolver knows (.test is reserved): only the proxy maps it, to 127.0.0.1. */
const PROXY_ONLY = "vault.proxy-only.test";
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

let pki: { caPem: string; key: string; cert: string; remove: () => void };
beforeAll(() => {
  const tmp = tempDir("edge-runner-vault-proxy-");
  const made = makePrivateCa(tmp.dir, [PROXY_ONLY]);
  pki = { caPem: readFileSync(made.caFile, "utf8"), key: readFileSync(made.keyFile, "utf8"), cert: readFileSync(made.certFile, "utf8"), remove: tmp.remove };
});
afterAll(() => pki.remove());

async function proxy(options: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const started = await startForwardProxy(options);
  closers.push(started.close);
  return started;
}

/** `proxyOnly`: Vault's address names PROXY_ONLY instead of localhost / 127.0.0.1. */
async function vault(tls: boolean, proxyOnly = false) {
  const fake = await startFakeVault(tls ? { tls: { key: pki.key, cert: pki.cert } } : {});
  closers.push(fake.close);
  fake.putKv2("kv/app", { password: "from-vault-1" });
  const addr = new URL(fake.url);
  if (proxyOnly) addr.hostname = PROXY_ONLY;
  const backend = new VaultBackend({ addr: addr.origin, token: fake.token(["kv/"]), timeoutMs: 3000, ...(tls ? { caPem: pki.caPem } : {}) });
  return { fake, backend, authority: addr.host, addr: addr.origin };
}

/** Every connection to the proxy closed, soon after the calls (a leaked one never is). */
async function noneLeftOpen(through: ForwardProxy): Promise<void> {
  await eventually(() => (through.openConnections() === 0 ? true : undefined), 2000, `the proxy's ${through.openConnections()} open connection(s) to close`);
}

const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

describe("VaultBackend behind a forward proxy", () => {
  test("VaultBackend reaches an https Vault through an HTTPS_PROXY tunnel, trusting vaultCaFile, with Proxy-Authorization", async () => {
    const through = await proxy({ credentials: { user: "runner", pass: PASSWORD } });
    const { fake, backend, authority } = await vault(true);
    closers.push(setEnv({ HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` }));
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    expect(through.requests.length).toBeGreaterThan(0);
    expect(through.requests.every((r) => r.method === "CONNECT" && r.target === authority)).toBe(true);
    expect(through.requests.every((r) => r.proxyAuthorization === `Basic ${Buffer.from(`runner:${PASSWORD}`).toString("base64")}`)).toBe(true);
    // The proxy's credentials stay with the proxy: Vault sees none.
    expect(fake.requests.some((r) => r.headers["proxy-authorization"] !== undefined)).toBe(false);
    // Each call's tunnel is closed once it is answered.
    await noneLeftOpen(through);
  });

  test("VaultBackend sends a plain-http Vault call to HTTP_PROXY with its absolute URL", async () => {
    const through = await proxy();
    const { backend, fake } = await vault(false);
    closers.push(setEnv({ HTTP_PROXY: through.url }));
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    expect(through.requests.some((r) => r.method === "GET" && r.target.startsWith(`${fake.url}/v1/kv/data/app`))).toBe(true);
    await noneLeftOpen(through);
  });

  test("VaultBackend reaches an https Vault only the proxy can reach, through the tunnel, and leaves no connection open at the proxy", async () => {
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const { backend, authority } = await vault(true, true);
    closers.push(setEnv({ HTTPS_PROXY: through.url }));
    for (let i = 0; i < 3; i++) expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    expect(through.targets().length).toBeGreaterThanOrEqual(3);
    expect(new Set(through.targets())).toEqual(new Set([authority]));
    await noneLeftOpen(through);
  });

  test("VaultBackend reaches a plain-http Vault only the proxy can reach, and leaves no connection open at the proxy", async () => {
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const { backend, addr } = await vault(false, true);
    closers.push(setEnv({ HTTP_PROXY: through.url }));
    for (let i = 0; i < 3; i++) expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    expect(through.targets().length).toBeGreaterThanOrEqual(3);
    expect(through.targets().every((t) => t.startsWith(`${addr}/v1/`))).toBe(true);
    await noneLeftOpen(through);
  });

  test("vaultTransport(): a Vault silent inside the tunnel fails the call at its deadline, and the tunnel is closed", async () => {
    const silent = createTlsServer({ key: pki.key, cert: pki.cert }, () => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => { silent.closeAllConnections(); silent.close(() => resolve()); }));
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const send = vaultTransport({ caPem: pki.caPem, timeoutMs: 500, maxBytes: 1000, env: { HTTPS_PROXY: through.url } }).defaults(undefined);
    const error = await failure(send({ method: "GET", uri: `https://${PROXY_ONLY}:${(silent.address() as AddressInfo).port}/v1/kv/data/app` }));
    expect(error.message).toBe("no answer within 500 ms");
    expect(through.requests.map((r) => r.method)).toEqual(["CONNECT"]);
    await noneLeftOpen(through);
  });

  /**
   * A Vault that accepts the tunnel's connection and never speaks or closes, not even its side
   * after the client's (allowHalfOpen): only the client can end the tunnel.
   */
  async function mute(): Promise<number> {
    const server = createTcpServer({ allowHalfOpen: true }, (socket) => socket.on("error", () => {}));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const open = new Set<Socket>();
    server.on("connection", (socket) => { open.add(socket); socket.on("close", () => open.delete(socket)); });
    closers.push(() => new Promise<void>((resolve) => { for (const socket of open) socket.destroy(); server.close(() => resolve()); }));
    return (server.address() as AddressInfo).port;
  }

  test("startForwardProxy(): openConnections() does not count a tunnel its client ended while the target keeps its side open", async () => {
    const port = await mute();
    const through = await proxy();
    const socket = connect({ port: through.port, host: "127.0.0.1", allowHalfOpen: true });
    closers.push(() => { socket.destroy(); });
    socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const answer = await new Promise<string>((resolve) => socket.once("data", (chunk: Buffer) => resolve(chunk.toString("latin1"))));
    expect(answer).toStartWith("HTTP/1.1 200");
    expect(through.openConnections()).toBe(1);
    socket.end();
    await noneLeftOpen(through);
  });

  test("vaultTransport(): a CA bundle the TLS layer refuses fails the call, and the tunnel is closed", async () => {
    const port = await mute();
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const notPem = "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n";
    const send = vaultTransport({ caPem: notPem, timeoutMs: 5000, maxBytes: 1000, env: { HTTPS_PROXY: through.url } }).defaults(undefined);
    const error = await failure(send({ method: "GET", uri: `https://${PROXY_ONLY}:${port}/v1/kv/data/app` }));
    expect(error.message).not.toBe("no answer within 5000 ms");
    expect(through.requests.map((r) => r.method)).toEqual(["CONNECT"]);
    await noneLeftOpen(through);
  });

  test("vaultTransport(): a header value that cannot be sent fails the call, names no value, and the tunnel is closed", async () => {
    const port = await mute();
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const send = vaultTransport({ caPem: pki.caPem, timeoutMs: 5000, maxBytes: 1000, env: { HTTPS_PROXY: through.url } }).defaults(undefined);
    const error = await failure(send({ method: "GET", uri: `https://${PROXY_ONLY}:${port}/v1/kv/data/app`, headers: { "x-vault-token": "s.tok3n-part\r\nx-injected: 1" } }));
    expect(error.message).not.toBe("no answer within 5000 ms");
    expect(error.message).not.toContain("tok3n");
    expect(through.requests.map((r) => r.method)).toEqual(["CONNECT"]);
    await noneLeftOpen(through);
  });

  test("vaultTransport(): a call its signal cancels while Vault is silent ends at once (job_cancelled), and the tunnel is closed", async () => {
    const port = await mute();
    const through = await proxy({ hosts: { [PROXY_ONLY]: "127.0.0.1" } });
    const send = vaultTransport({ caPem: pki.caPem, timeoutMs: 30_000, maxBytes: 1000, env: { HTTPS_PROXY: through.url } }).defaults(undefined);
    const cancel = new AbortController();
    const startedAt = Date.now();
    const call = failure(send({ method: "GET", uri: `https://${PROXY_ONLY}:${port}/v1/kv/data/app`, signal: cancel.signal }));
    await eventually(() => (through.openConnections() === 1 && through.requests.length === 1 ? true : undefined), 2000, "the tunnel to open");
    cancel.abort();
    const error = await call;
    expect({ code: (error as { code?: string }).code, message: error.message }).toEqual({ code: "job_cancelled", message: "the call was cancelled before Vault answered" });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    await noneLeftOpen(through);
  });

  test("VaultBackend goes direct to a Vault NO_PROXY names, and through the proxy when it does not", async () => {
    const through = await proxy();
    const { backend } = await vault(true);
    closers.push(setEnv({ HTTPS_PROXY: through.url, NO_PROXY: "vault.example,localhost" }));
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    expect(through.requests).toEqual([]);
    const other = await vault(true);
    process.env.NO_PROXY = "vault.example";
    expect(await other.backend.read(ref("vault:kv/data/app#password"))).toBe("from-vault-1");
    // One tunnel per call (the token's lookup, the read): each to that Vault.
    expect(through.targets().length).toBeGreaterThan(0);
    expect(new Set(through.targets())).toEqual(new Set([other.authority]));
  });

  test("VaultBackend: a proxy answering 407 to wrong credentials is named in the error, the password is not", async () => {
    const through = await proxy({ credentials: { user: "runner", pass: "the-right-one" } });
    const { backend, authority } = await vault(true);
    closers.push(setEnv({ HTTPS_PROXY: `http://runner:${PASSWORD}@127.0.0.1:${through.port}` }));
    const error = await failure(backend.read(ref("vault:kv/data/app#password")));
    expect((error as { code?: string }).code).toBe("secret_backend_unavailable");
    expect(error.message).toContain(`Cannot open a tunnel to "${authority}" through proxy "${through.url}" (from HTTPS_PROXY)`);
    expect(error.message).toContain("407");
    for (const form of [PASSWORD, Buffer.from(`runner:${PASSWORD}`).toString("base64")]) expect(JSON.stringify(error) + error.message + String(error.stack)).not.toContain(form);
  });

  test("VaultBackend: a proxy refusing CONNECT with 403 is named in the error", async () => {
    const through = await proxy({ refuseConnect: 403 });
    const { backend } = await vault(true);
    closers.push(setEnv({ HTTPS_PROXY: through.url }));
    const error = await failure(backend.read(ref("vault:kv/data/app#password")));
    expect((error as { code?: string }).code).toBe("secret_backend_unavailable");
    expect(error.message).toContain(`through proxy "${through.url}" (from HTTPS_PROXY): the proxy answered 403`);
  });
});
