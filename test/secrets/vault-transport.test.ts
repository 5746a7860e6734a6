// VaultBackend's HTTP hygiene against the fake Vault: nothing implicit from VAULT_* variables,
// no redirect followed with the token, answers bounded, and a token file re-read when Vault Agent
// rewrites it.

import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { SecretBackends } from "../../src/secrets/references/secret-backends.ts";
import { eventually } from "../helpers/harness.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { codeOf } from "../fakes/error-code.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";
import { FakeServer } from "../fakes/http-fake.ts";
import { setEnv } from "../helpers/env.ts";

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function vault(options: Parameters<typeof startFakeVault>[0] = {}) {
  const fake = await startFakeVault({ roleId: "role-1", secretId: "secret-id-1", ...options });
  closers.push(fake.close);
  return fake;
}

const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;

describe("VaultBackend and the environment", () => {
  test("ignores VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX: AppRole is what the config says", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "approle-pw-1" });
    const envToken = fake.token(["kv/"]);
    closers.push(setEnv({ VAULT_TOKEN: envToken, VAULT_NAMESPACE: "other-team", VAULT_PREFIX: "/prefix" }));
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("approle-pw-1");
    expect(fake.logins).toBe(1);
    expect(fake.requests.some((r) => r.headers["x-vault-token"] === envToken)).toBe(false);
    expect(fake.requests.some((r) => r.headers["x-vault-namespace"] !== undefined)).toBe(false);
    expect(fake.requests.every((r) => r.path.startsWith("/v1/auth/") || r.path.startsWith("/v1/kv/") || r.path === "/v1/sys/internal/ui/mounts/kv/data/app")).toBe(true);
  });

  test("ignores VAULT_SKIP_VERIFY", async () => {
    closers.push(setEnv({ VAULT_SKIP_VERIFY: "1" }));
    const { readFileSync } = await import("node:fs");
    const { spawnSync } = await import("node:child_process");
    const dir = mkdtempSync(path.join(tmpdir(), "vault-skip-"));
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")]);
    expect(made.status).toBe(0);
    const fake = await vault({ tls: { key: readFileSync(path.join(dir, "key.pem"), "utf8"), cert: readFileSync(path.join(dir, "cert.pem"), "utf8") } });
    fake.putKv2("kv/app", { password: "self-signed-1" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toStartWith("secret_backend_unavailable");
  });
});

describe("VaultBackend HTTP", () => {
  test("prints nothing of a request (an AppRole secret_id) when DEBUG=node-vault is set", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "debug-pw-1" });
    const root = path.resolve(import.meta.dir, "../..");
    const script = [
      `import { VaultBackend } from ${JSON.stringify(`${root}/src/secrets/references/vault-backend.ts`)};`,
      `import { parseReference } from ${JSON.stringify(`${root}/src/secrets/references/reference.ts`)};`,
      `const backend = new VaultBackend({ addr: ${JSON.stringify(fake.url)}, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });`,
      `console.log(await backend.read(parseReference("vault:kv/data/app#password")));`,
    ].join("\n");
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, DEBUG: "node-vault", DEBUG_COLORS: "0" } });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(out).toContain("debug-pw-1");
    expect(status).toBe(0);
    expect(out).not.toContain("secret-id-1");
    expect(out).not.toContain("hvs.");
  });


  test("does not follow a redirect, so the token never reaches another host", async () => {
    const elsewhere = new FakeServer().any(() => ({ status: 200, body: { data: { data: { password: "from-elsewhere" } } } }));
    await elsewhere.start();
    closers.push(() => elsewhere.stop());
    const fake = await vault();
    fake.putKv2("kv/app", { password: "x-1234567" });
    const token = fake.token();
    const backend = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    fake.fail({ status: 200, body: { data: { ttl: 0 } } }); // lookup-self
    fake.fail({ status: 307, headers: { location: `${elsewhere.url}/v1/kv/data/app` } });
    const message = await codeOf(backend.read(ref("vault:kv/data/app#password")));
    expect(message).toStartWith("secret_backend_unavailable");
    expect(message).toContain("307");
    expect(message).not.toContain(token);
    expect(elsewhere.requests.length).toBe(0);
  });

  test("SecretBackends.resolve() hands the job's signal to the Vault read: cancelling it ends a read Vault does not answer", async () => {
    const fake = await vault();
    const token = fake.token();
    fake.fail({ status: 200, body: { data: { ttl: 0 } } }); // lookup-self
    fake.fail({ status: 200, body: { data: { data: { password: "late" } } }, delayMs: 60_000 });
    const backends = new SecretBackends({ vault: { addr: fake.url, token, timeoutMs: 30_000 }, registerSecret: () => {} });
    const raw = "vault:kv/data/app#password";
    const cancel = new AbortController();
    const read = codeOf(backends.resolve(raw, { jobId: "j1", attempt: 1, declared: [raw] }, cancel.signal));
    await eventually(() => (fake.requests.some((r) => r.path === "/v1/kv/data/app") ? true : undefined), 5000, "the KV read to reach Vault");
    const startedAt = Date.now();
    cancel.abort();
    expect(await read).toBe(`job_cancelled: Cannot resolve secret "${raw}" from Vault at "${fake.url}": the call was cancelled before Vault answered`);
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  test("refuses an answer over 2 MiB", async () => {
    const fake = await vault();
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 5000 });
    fake.fail({ status: 200, body: { data: { ttl: 0 } } }); // lookup-self
    fake.fail({ status: 200, body: { data: { data: { password: "p".repeat(3 * 1024 * 1024) } } } });
    const message = await codeOf(backend.read(ref("vault:kv/data/app#password")));
    expect(message).toStartWith("secret_corrupt");
    expect(message).toContain("2097152");
  });
});

describe("VaultBackend token file", () => {
  test("re-reads the token file when Vault Agent rewrites it", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "agent-pw-1" });
    const dir = mkdtempSync(path.join(tmpdir(), "vault-agent-"));
    const file = path.join(dir, "token");
    const first = fake.token();
    writeFileSync(file, first + "\n", { mode: 0o600 });
    const registered: string[] = [];
    const backend = new VaultBackend({ addr: fake.url, tokenFile: file, timeoutMs: 2000, registerSecret: (v) => registered.push(v) });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("agent-pw-1");
    // The agent gets a new token and rewrites the sink; the old one is revoked.
    const second = fake.token();
    writeFileSync(file, second + "\n");
    chmodSync(file, 0o600);
    fake.revoke(first);
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("agent-pw-1");
    expect(fake.requests.at(-1)?.headers["x-vault-token"]).toBe(second);
    expect(registered).toContain(first);
    expect(registered).toContain(second);
  });

  test("a token file others can read is refused at the read, naming the option", async () => {
    const fake = await vault();
    const dir = mkdtempSync(path.join(tmpdir(), "vault-agent-"));
    const file = path.join(dir, "token");
    writeFileSync(file, fake.token(), { mode: 0o600 });
    const backend = new VaultBackend({ addr: fake.url, tokenFile: file, timeoutMs: 2000 });
    chmodSync(file, 0o644);
    const message = await codeOf(backend.read(ref("vault:kv/data/app#password")));
    expect(message).toStartWith("config_invalid");
    expect(message).toContain("vaultTokenFile");
  });
});
