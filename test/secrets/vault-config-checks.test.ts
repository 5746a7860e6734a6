// What a runner refuses of its Vault settings when the config is read, before any network call
// (config_invalid, exit 78, naming the field): a vaultCaFile that is not a bundle of PEM
// certificates (Bun's TLS refused it only at the first call, mid-call), a token file whose token
// cannot be sent as a header (a CR/LF), a vaultNamespace likewise. A token re-read from the file
// or answered by an AppRole login is held to the same rule before it is sent.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import * as path from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { backendOptionsFromConfig } from "../../src/secrets/references/from-config.ts";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";
import { codeOf } from "../fakes/error-code.ts";
import { FakeServer } from "../fakes/http-fake.ts";
import { tempDir } from "../helpers/harness.ts";
import { caBundles } from "../helpers/bad-ca-bundles.ts";

const tmp = tempDir("edge-runner-vault-config-");
afterAll(() => tmp.remove());
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const TOKEN = "hvs.s3cr3t-T0ken-part";
const made = caBundles(tmp.dir);
const { caPem } = made;
const BAD_BUNDLES = made.bad;

function file(name: string, text: string): string {
  const at = path.join(tmp.dir, name);
  writeFileSync(at, text, { mode: 0o600 });
  chmodSync(at, 0o600);
  return at;
}

function thrown(run: () => unknown): { code?: string; field?: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; field?: string; message: string };
  }
  throw new Error("expected a config error");
}

const fromEnv = (env: Record<string, string>) => backendOptionsFromConfig(resolveConfig({ scopes: ["runner"], argv: [], env }).config);
const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;

describe("backendOptionsFromConfig() for Vault", () => {
  const base = { EDGE_RUNNER_VAULT_ADDR: "https://vault.example:8200" };

  test("backendOptionsFromConfig() refuses a vaultCaFile that is not a bundle of PEM certificates: config_invalid naming vaultCaFile", () => {
    const token = file("token-ok", `${TOKEN}\n`);
    expect(fromEnv({ ...base, EDGE_RUNNER_VAULT_TOKEN_FILE: token, EDGE_RUNNER_VAULT_CA_FILE: made.caFile }).vault?.caPem).toBe(caPem);
    for (const [name, pem] of Object.entries(BAD_BUNDLES)) {
      const ca = file(`ca-${name.replace(/\W+/g, "-")}.pem`, pem);
      const error = thrown(() => fromEnv({ ...base, EDGE_RUNNER_VAULT_TOKEN_FILE: token, EDGE_RUNNER_VAULT_CA_FILE: ca }));
      expect({ name, code: error.code, field: error.field }).toEqual({ name, code: "config_invalid", field: "vaultCaFile" });
      expect(error.message).toStartWith(`Cannot use "vaultCaFile" "${ca}": `);
    }
  });

  test("backendOptionsFromConfig() refuses a token file whose token holds a CR/LF: config_invalid naming vaultTokenFile, never the token", () => {
    for (const [name, text] of [["lf", `${TOKEN}\nx-injected: 1\n`], ["cr", `${TOKEN}\rmore`], ["space", `${TOKEN} ${TOKEN}`]] as const) {
      const token = file(`token-${name}`, text);
      const error = thrown(() => fromEnv({ ...base, EDGE_RUNNER_VAULT_TOKEN_FILE: token }));
      expect({ name, code: error.code, field: error.field }).toEqual({ name, code: "config_invalid", field: "vaultTokenFile" });
      expect(error.message).toContain(`Refusing "vaultTokenFile" file "${token}": the token holds a`);
      expect(error.message).toContain("X-Vault-Token");
      expect(error.message).not.toContain("s3cr3t");
    }
  });

  test("backendOptionsFromConfig() refuses a vaultNamespace with a line break: config_invalid naming vaultNamespace", () => {
    const token = file("token-ns", `${TOKEN}\n`);
    const error = thrown(() => fromEnv({ ...base, EDGE_RUNNER_VAULT_TOKEN_FILE: token, EDGE_RUNNER_VAULT_NAMESPACE: "team\r\nx-injected: 1" }));
    expect({ code: error.code, field: error.field }).toEqual({ code: "config_invalid", field: "vaultNamespace" });
  });
});

describe("VaultBackend tokens that cannot be sent", () => {
  test("VaultBackend refuses a token file rewritten with a CR/LF, naming vaultTokenFile, and sends nothing with it", async () => {
    const fake = await startFakeVault();
    closers.push(fake.close);
    fake.putKv2("kv/app", { password: "pw-1" });
    const token = file("token-rewritten", `${fake.token()}\n`);
    const backend = new VaultBackend({ addr: fake.url, tokenFile: token, timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-1");
    const sent = fake.requests.length;
    writeFileSync(token, `${TOKEN}\r\nx-injected: 1\n`);
    chmodSync(token, 0o600);
    const error = await backend.read(ref("vault:kv/data/app#password")).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(error?.code).toBe("config_invalid");
    expect(error?.message).toContain(`Refusing "vaultTokenFile" file "${token}": the token holds a line break`);
    expect(error?.message).not.toContain("s3cr3t");
    expect(fake.requests.length).toBe(sent);
  });

  test("VaultBackend refuses an AppRole answer whose client_token holds a CR/LF, naming the AppRole login, and sends nothing with it", async () => {
    const vault = new FakeServer().any((req) =>
      req.path === "/v1/auth/approle/login" ? { status: 200, body: { auth: { client_token: `${TOKEN}\r\nx-injected: 1`, lease_duration: 3600, renewable: true } } } : { status: 403, body: { errors: ["permission denied"] } });
    await vault.start();
    closers.push(() => vault.stop());
    const registered: string[] = [];
    const backend = new VaultBackend({ addr: vault.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000, registerSecret: (v) => registered.push(v) });
    const error = await backend.read(ref("vault:kv/data/app#password")).then(() => undefined, (e: unknown) => e as { code?: string; message: string });
    expect(error?.code).toBe("secret_backend_unavailable");
    expect(error?.message).toBe(`Cannot log in to Vault at "${vault.url}" with AppRole: the answer's client_token holds a line break (U+000D), which cannot be sent in the X-Vault-Token header; refused`);
    expect(vault.requests.map((r) => r.path)).toEqual(["/v1/auth/approle/login"]);
    expect(registered).toContain(`${TOKEN}\r\nx-injected: 1`);
  });

  test("VaultBackend logs in at vaultAppRoleMount with role_id and secret_id as the JSON body", async () => {
    const vault = new FakeServer().any((req) =>
      req.path === "/v1/auth/team-approle/login" ? { status: 200, body: { auth: { client_token: TOKEN, lease_duration: 3600, renewable: true } } } : { status: 200, body: { data: { data: { password: "pw-mount" }, metadata: { version: 1 } } } });
    await vault.start();
    closers.push(() => vault.stop());
    const backend = new VaultBackend({ addr: vault.url, roleId: "role-1", secretId: "secret-id-1", appRoleMount: "team-approle", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-mount");
    expect(vault.requests[0]).toMatchObject({ method: "POST", path: "/v1/auth/team-approle/login" });
    expect(vault.requests[0]!.json()).toEqual({ role_id: "role-1", secret_id: "secret-id-1" });
    expect(vault.requests[0]!.headers["x-vault-token"]).toBeUndefined();
    expect(vault.requests[1]!.headers["x-vault-token"]).toBe(TOKEN);
  });

  test("VaultBackend.read(): a token file rewritten while an AppRole login is under way keeps its token when the login's answer is refused (node-vault had put the old, dead token back)", async () => {
    const fake = await startFakeVault({ roleId: "role-1", secretId: "secret-id-1" });
    closers.push(fake.close);
    fake.putKv2("kv/app", { password: "pw-file-token" });
    const [t0, t1] = [fake.token(), fake.token()];
    const file = path.join(tmp.dir, "token-during-login");
    const put = (token: string) => {
      writeFileSync(`${file}.new`, token, { mode: 0o600 });
      renameSync(`${file}.new`, file);
    };
    put(t0);
    const backend = new VaultBackend({ addr: fake.url, token: t0, tokenFile: file, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-file-token");
    fake.revoke(t0);
    fake.fail({ status: 200, body: { auth: { client_token: `${TOKEN}\r\nx-injected: 1`, lease_duration: 3600, renewable: true } }, delayMs: 300 }, (r) => r.path === "/v1/auth/approle/login");
    const first = codeOf(backend.read(ref("vault:kv/data/app#password"))); // T0 dead, the file unchanged: a login (slow, then refused)
    await Bun.sleep(100);
    put(t1);
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-file-token");
    expect(await first).toStartWith("secret_backend_unavailable: Cannot log in");
    const sent = fake.requests.length;
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-file-token");
    expect(fake.requests.slice(sent).map((r) => r.headers["x-vault-token"])).toEqual([t1]);
  });

  test("VaultBackend.read(): after an AppRole answer whose client_token was refused, the next read logs in again (node-vault had kept the refused token: every read was 'unreachable (ERR_INVALID_CHAR)')", async () => {
    let answers = 0;
    const vault = new FakeServer().any((req) => {
      if (req.path === "/v1/auth/approle/login") return { status: 200, body: { auth: { client_token: ++answers === 1 ? `${TOKEN}\r\nx-injected: 1` : TOKEN, lease_duration: 3600, renewable: true } } };
      if (req.headers["x-vault-token"] !== TOKEN) return { status: 403, body: { errors: ["permission denied"] } };
      return { status: 200, body: { data: { data: { password: "pw-second-login" }, metadata: { version: 1 } } } };
    });
    await vault.start();
    closers.push(() => vault.stop());
    const backend = new VaultBackend({ addr: vault.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toStartWith("secret_backend_unavailable: Cannot log in");
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toBe("resolved");
    expect(vault.requests.map((r) => r.path)).toEqual(["/v1/auth/approle/login", "/v1/auth/approle/login", "/v1/kv/data/app", "/v1/sys/internal/ui/mounts/kv/data/app"]);
  });
});

describe("edge-runner run with a bad vaultCaFile", () => {
  test("edge-runner run with a vaultCaFile that is not PEM exits 78 naming vaultCaFile, before any network call", async () => {
    // The controller and Vault both point at a listener that counts connections: none may come.
    const connections: Socket[] = [];
    const listener = createTcpServer((socket) => connections.push(socket));
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => { for (const socket of connections) socket.destroy(); listener.close(() => resolve()); }));
    const port = (listener.address() as AddressInfo).port;
    const root = new URL("../..", import.meta.url).pathname;
    const env = {
      PATH: process.env.PATH ?? "",
      EDGE_RUNNER_VAULT_ADDR: `https://127.0.0.1:${port}`,
      EDGE_RUNNER_VAULT_TOKEN_FILE: file("token-run", `${TOKEN}\n`),
      EDGE_RUNNER_VAULT_CA_FILE: file("ca-run.pem", BAD_BUNDLES["markers around text that is not base64"]!),
    };
    const args = ["run", "--runner-id", "vault-ca-run", "--api-key-file", file("api-key", "api-key-0123456789abcdef\n"), "--controller-url", `https://127.0.0.1:${port}`,
      "--status-port", "0", "--start-jitter", "0", "--data-dir", path.join(tmp.dir, "run-data")];
    const child = Bun.spawn([process.execPath, `${root}src/main.ts`, ...args], { cwd: root, stdout: "pipe", stderr: "pipe", env });
    // A runner that accepted the bundle would keep running: it is stopped when the test ends.
    closers.push(() => { child.kill(); });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect({ code, output: stdout + stderr }).toEqual({ code: 78, output: expect.stringContaining(`"vaultCaFile"`) });
    expect(connections.length).toBe(0);
  }, 20_000);
});
