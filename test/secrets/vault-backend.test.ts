// VaultBackend (node-vault) against the fake Vault in test/fakes/fake-vault.ts: the real server
// cannot be installed here, so these shapes are Vault's documented ones (see docs/testing.md).

import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { MIN_DENIAL_RECOVERY_MS, TOKEN_FOUND_LIVE_MS, VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { OWN_TOKENS_KEPT } from "../../src/secrets/references/vault-own-credentials.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { codeOf } from "../fakes/error-code.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function vault(options: Parameters<typeof startFakeVault>[0] = {}) {
  const fake = await startFakeVault({ roleId: "role-1", secretId: "secret-id-1", ...options });
  closers.push(fake.close);
  return fake;
}

const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;

describe("VaultBackend", () => {
  /** A fake Vault holding kv/app#password, and an AppRole backend on the clock `now` that has read it once. */
  async function appRoleReading(password: string, now: () => number, options: Parameters<typeof vault>[0] = {}) {
    const fake = await vault({ ...options, now });
    fake.putKv2("kv/app", { password });
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000, now });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe(password);
    return { fake, backend };
  }

  test("reads KV v2 (latest and ?version=N) and KV v1 with a token", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "pw-version-1" });
    fake.putKv2("kv/app", { password: "pw-version-2", nested: { a: 1 } });
    fake.putKv1("secret/legacy", { apiKey: "v1-api-key-value" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-version-2");
    expect(await backend.read(ref("vault:kv/data/app?version=1#password"))).toBe("pw-version-1");
    expect(await backend.read(ref("vault:kv/data/app#password?version=1"))).toBe("pw-version-1");
    expect(await backend.read(ref("vault:kv/data/app#nested"))).toBe('{"a":1}');
    expect(await backend.read(ref("vault:secret/legacy#apiKey"))).toBe("v1-api-key-value");
    expect(await codeOf(backend.read(ref("vault:kv/data/app#missing")))).toStartWith("secret_not_found");
    expect(await codeOf(backend.read(ref("vault:kv/data/nope#x")))).toStartWith("secret_not_found");
    expect(await codeOf(backend.read(ref("vault:kv/data/app?version=9#password")))).toStartWith("secret_not_found");
  });

  test("refuses a value that holds the runner's own token or AppRole ids (secret_permission_denied, value not shown)", async () => {
    const fake = await vault();
    const token = fake.token();
    fake.putKv2("kv/leak", { token, wrapped: { inner: token }, secretId: "secret-id-1", roleId: "role-1", fine: "an-ordinary-value" });
    const byToken = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    for (const field of ["token", "wrapped"]) {
      const error = await byToken.read(ref(`vault:kv/data/leak#${field}`)).catch((e: unknown) => e as Error & { code: string });
      expect(error).toMatchObject({ code: "secret_permission_denied" });
      expect((error as Error).message).toContain(`vault:kv/data/leak#${field}`);
      expect((error as Error).message).not.toContain(token);
    }
    expect(await byToken.read(ref("vault:kv/data/leak#fine"))).toBe("an-ordinary-value");
    const byAppRole = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    for (const field of ["secretId", "roleId"]) expect(await codeOf(byAppRole.read(ref(`vault:kv/data/leak#${field}`)))).toStartWith("secret_permission_denied");
  });

  test("VaultBackend.read() refuses its own credential also as a short custom role_id with a newline, or as base64 (they were handed to the job)", async () => {
    const fake = await vault();
    const token = fake.token();
    fake.putKv2("kv/forms", { roleLine: "role-1\n", roleSpaced: " role-1 ", tokenBase64: Buffer.from(`${token}\n`).toString("base64"), tokenLine: `${token}\n`, fine: "role-12" });
    const byAppRole = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    for (const field of ["roleLine", "roleSpaced"]) expect(await codeOf(byAppRole.read(ref(`vault:kv/data/forms#${field}`)))).toStartWith("secret_permission_denied");
    expect(await byAppRole.read(ref("vault:kv/data/forms#fine"))).toBe("role-12");
    const byToken = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    for (const field of ["tokenBase64", "tokenLine"]) {
      const message = await codeOf(byToken.read(ref(`vault:kv/data/forms#${field}`)));
      expect(message).toStartWith(`secret_permission_denied: Cannot resolve secret "vault:kv/data/forms#${field}"`);
      expect(message).not.toContain(token);
    }
  });

  test("VaultBackend.read() refuses its own token and role_id stored as hex, percent-encoded or base64 of base64 (they were handed to the job)", async () => {
    const fake = await vault();
    const token = fake.token();
    const hex = (text: string) => Buffer.from(text).toString("hex");
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const percentAll = (text: string) => [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
    fake.putKv2("kv/encoded", {
      tokenHex: hex(`${token}\n`),
      tokenPercent: percentAll(token),
      tokenBase64Twice: b64(b64(token)),
      roleHex: hex("role-1"),
      roleBase64Twice: b64(b64("role-1\n")),
      fine: hex("an-ordinary-value"),
    });
    const byAppRole = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    for (const field of ["roleHex", "roleBase64Twice"]) expect(await codeOf(byAppRole.read(ref(`vault:kv/data/encoded#${field}`)))).toStartWith("secret_permission_denied");
    expect(await byAppRole.read(ref("vault:kv/data/encoded#fine"))).toBe(hex("an-ordinary-value"));
    const byToken = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    for (const field of ["tokenHex", "tokenPercent", "tokenBase64Twice"]) {
      const message = await codeOf(byToken.read(ref(`vault:kv/data/encoded#${field}`)));
      expect(message).toStartWith(`secret_permission_denied: Cannot resolve secret "vault:kv/data/encoded#${field}"`);
      expect(message).not.toContain(token);
      expect(message).not.toContain(hex(token).slice(0, 16));
    }
  });

  test("VaultBackend.read() reads a KV v2 secret in a folder called sys, and takes a KV v2 path's answer only in KV v2's shape (an API answer read through a namespace called data is refused)", async () => {
    const fake = await vault();
    fake.putKv2("kv/sys/db", { pw: "pw-in-sys-folder" });
    const token = fake.token();
    const backend = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/sys/db#pw"))).toBe("pw-in-sys-folder");
    // Vault Enterprise with namespaces ns and ns/data: ns/data/auth/token/lookup-self and
    // ns/data/identity/oidc/token/r are API answers, not KV v2 ones.
    for (const [raw, body] of [
      ["vault:ns/data/auth/token/lookup-self#id", { data: { id: token, policies: ["default"], data: { id: token } } }],
      ["vault:ns/data/identity/oidc/token/r#token", { data: { client_id: "c", token: "eyJ.minted.jwt", ttl: 300, data: { token: "eyJ.minted.jwt" } } }],
    ] as const) {
      fake.fail({ status: 200, body });
      const message = await codeOf(backend.read(ref(raw)));
      expect(message).toStartWith(`secret_corrupt: Cannot resolve secret "${raw}"`);
      expect(message).toContain("not a KV v2 answer");
      expect(message).not.toContain(token);
      expect(message).not.toContain("eyJ.minted.jwt");
    }
  });

  test("a field named like an Object.prototype member is looked up among the secret's own fields only", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "real-password-123" });
    fake.putKv1("secret/legacy", { apiKey: "v1-api-key-value" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    for (const field of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
      expect(await codeOf(backend.read(ref(`vault:kv/data/app#${field}`)))).toStartWith(`secret_not_found: Cannot resolve secret "vault:kv/data/app#${field}"`);
      expect(await codeOf(backend.read(ref(`vault:secret/legacy#${field}`)))).toContain(`has no field "${field}"`);
    }
  });

  test("an answer nested past the JSON depth bound is secret_corrupt naming the reference (it overflowed the stack as code internal)", async () => {
    const fake = await vault();
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    expect(await codeOf(backend.read(ref("vault:kv/data/warm#f")))).toStartWith("secret_not_found"); // the token's lookup is done
    const n = 400_000;
    for (const deep of [`{"data":{"data":{"f":${"[".repeat(n)}${"]".repeat(n)}}}}`, `{"data":{"data":{"f":"ok-value-1","g":${"[".repeat(62)}${"]".repeat(62)}}}}`]) {
      fake.fail({ status: 200, body: deep });
      expect(await codeOf(backend.read(ref("vault:kv/data/deep#f")))).toMatch(/^secret_corrupt: Cannot resolve secret "vault:kv\/data\/deep#f" .*nests deeper than 64 levels/);
    }
  });

  test("a KV v2 answer that is not the pinned version is refused (secret_corrupt), the value not shown", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "pw-version-1" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app?version=1#password"))).toBe("pw-version-1");
    // As a proxy that drops the query would answer: the latest version, whatever was pinned.
    fake.fail({ status: 200, body: { data: { data: { password: "pw-version-3" }, metadata: { version: 3 } } } });
    const wrong = await codeOf(backend.read(ref("vault:kv/data/app?version=2#password")));
    expect(wrong).toStartWith(`secret_corrupt: Cannot resolve secret "vault:kv/data/app?version=2#password"`);
    expect(wrong).not.toContain("pw-version-3");
  });

  test("a null field is secret_not_found and a boolean one secret_corrupt (they came out as \"null\" and \"true\"); numbers and objects are text", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { n: null, b: true, port: 5432, obj: { a: "x" } });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 2000 });
    expect(await codeOf(backend.read(ref("vault:kv/data/app#n")))).toStartWith(`secret_not_found: Cannot resolve secret "vault:kv/data/app#n"`);
    expect(await codeOf(backend.read(ref("vault:kv/data/app#b")))).toStartWith(`secret_corrupt: Cannot resolve secret "vault:kv/data/app#b"`);
    expect(await backend.read(ref("vault:kv/data/app#port"))).toBe("5432");
    expect(await backend.read(ref("vault:kv/data/app#obj"))).toBe('{"a":"x"}');
  });

  test("logs in with AppRole, sends the namespace header, and registers tokens with the runner's scope", async () => {
    const fake = await vault({ namespace: "team-a" });
    fake.putKv2("kv/app", { password: "ns-password-1" });
    const registered: string[] = [];
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", namespace: "team-a", timeoutMs: 2000, registerSecret: (v) => registered.push(v) });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("ns-password-1");
    expect(fake.logins).toBe(1);
    expect(fake.requests.every((r) => r.headers["x-vault-namespace"] === "team-a")).toBe(true);
    expect(registered.some((t) => t.startsWith("hvs."))).toBe(true);
    expect(registered).toContain("secret-id-1");
    const wrongNs = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await codeOf(wrongNs.read(ref("vault:kv/data/app#password")))).toStartWith("secret_permission_denied");
  });

  test("a bad or expired token is permission denied (403) without AppRole", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "x-123456" });
    const bad = new VaultBackend({ addr: fake.url, token: "hvs.wrong", timeoutMs: 2000 });
    const message = await codeOf(bad.read(ref("vault:kv/data/app#password")));
    expect(message).toStartWith("secret_permission_denied");
    expect(message).toContain("vault:kv/data/app#password");
    expect(message).not.toContain("hvs.wrong");
    const narrow = new VaultBackend({ addr: fake.url, token: fake.token(["secret/"]), timeoutMs: 2000 });
    expect(await codeOf(narrow.read(ref("vault:kv/data/app#password")))).toStartWith("secret_permission_denied");
  });

  test("renews the token before its TTL ends, and logs in again when renewal is refused or the token dies", async () => {
    let clock = 1_000_000;
    const { fake, backend } = await appRoleReading("renewed-pw-1", () => clock, { loginTtlSec: 60 });
    expect(fake.logins).toBe(1);
    clock += 45_000; // past two thirds of the 60 s TTL
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("renewed-pw-1");
    expect(fake.renewals).toBe(1);
    fake.refuseRenewal(true);
    clock += 45_000;
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("renewed-pw-1");
    expect(fake.logins).toBe(2);
    // A token revoked behind our back: the read's 403 leads to one new login and a retry.
    for (const r of fake.requests) fake.revoke(String(r.headers["x-vault-token"] ?? ""));
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("renewed-pw-1");
    expect(fake.logins).toBe(3);
  });

  test("a path the policy forbids (403) is a denial, not a dead token: 5 forbidden reads make no new AppRole login, and the first token stays refused as a value", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "pw-approle-1" });
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-approle-1");
    const first = String(fake.requests.at(-1)!.headers["x-vault-token"]);
    for (let i = 0; i < 5; i++) expect(await codeOf(backend.read(ref(`vault:other/data/x${i}#f`)))).toStartWith("secret_permission_denied");
    // Concurrent forbidden reads too.
    await Promise.all([1, 2, 3].map(async (i) => expect(await codeOf(backend.read(ref(`vault:other/data/y${i}#f`)))).toStartWith("secret_permission_denied")));
    expect(fake.logins).toBe(1);
    fake.putKv2("kv/leak", { t: first });
    expect(await codeOf(backend.read(ref("vault:kv/data/leak#t")))).toStartWith("secret_permission_denied");
  });

  test("VaultBackend.read(): forbidden reads in a row with a live token share one lookup-self per TOKEN_FOUND_LIVE_MS (it was one each), and a token revoked meanwhile is still replaced after it", async () => {
    let clock = 2_000_000;
    const { fake, backend } = await appRoleReading("pw-live-token", () => clock);
    const lookups = () => fake.requests.filter((r) => r.path === "/v1/auth/token/lookup-self").length;
    const before = lookups();
    for (let i = 0; i < 20; i++) expect(await codeOf(backend.read(ref(`vault:other/data/x${i}#f`)))).toStartWith("secret_permission_denied");
    expect(lookups() - before).toBe(1);
    clock += TOKEN_FOUND_LIVE_MS;
    for (let i = 0; i < 5; i++) expect(await codeOf(backend.read(ref(`vault:other/data/z${i}#f`)))).toStartWith("secret_permission_denied");
    expect(lookups() - before).toBe(2);
    expect(fake.logins).toBe(1);
    // Revoked within the window: found at the first 403 after it.
    fake.revoke(String(fake.requests.at(-1)!.headers["x-vault-token"]));
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toStartWith("secret_permission_denied");
    clock += TOKEN_FOUND_LIVE_MS;
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-live-token");
    expect(fake.logins).toBe(2);
  });

  test("where the policy denies lookup-self too (403 for a live token), forbidden reads cannot make the runner log in again and again: one login finds it out, and the first token stays refused", async () => {
    let clock = 1_000_000;
    const { fake, backend } = await appRoleReading("pw-self-denied", () => clock, { selfDenied: true });
    const first = String(fake.requests.at(-1)!.headers["x-vault-token"]);
    for (let i = 0; i < 10; i++) {
      expect(await codeOf(backend.read(ref(`vault:other/data/x${i}#f`)))).toStartWith("secret_permission_denied");
      clock += MIN_DENIAL_RECOVERY_MS; // even spread out in time
    }
    await Promise.all([1, 2, 3, 4, 5].map(async (i) => expect(await codeOf(backend.read(ref(`vault:other/data/y${i}#f`)))).toStartWith("secret_permission_denied")));
    // The first forbidden read's lookup-self was refused (it looked dead): one login, whose own
    // lookup-self refused too told the runner that its 403s say nothing. Before: one login per read.
    expect(fake.logins).toBe(2);
    fake.putKv2("kv/leak", { t: first });
    expect(await codeOf(backend.read(ref("vault:kv/data/leak#t")))).toStartWith("secret_permission_denied");
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-self-denied");
  });

  test("a token revoked under concurrent reads leads to one lookup-self of it and one new login", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "pw-approle-2" });
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-approle-2");
    fake.revoke(String(fake.requests.at(-1)!.headers["x-vault-token"]));
    const before = fake.requests.length;
    expect(await Promise.all([1, 2, 3, 4].map(() => backend.read(ref("vault:kv/data/app#password"))))).toEqual(Array(4).fill("pw-approle-2"));
    expect(fake.logins).toBe(2);
    // One for the dead token, one of the new token (a fresh token's lookup-self refused would mean the policy denies it).
    expect(fake.requests.slice(before).filter((r) => r.path === "/v1/auth/token/lookup-self").length).toBe(2);
  });

  test("VaultBackend.read(): a new AppRole login that failed (Vault sealed for a moment) does not hold recovery off for MIN_DENIAL_RECOVERY_MS (every read was secret_permission_denied for 60 s)", async () => {
    let clock = 3_000_000;
    const { fake, backend } = await appRoleReading("pw-after-blip", () => clock);
    fake.revoke(String(fake.requests.at(-1)!.headers["x-vault-token"]));
    const isLogin = (r: { path: string }) => r.path === "/v1/auth/approle/login";
    fake.fail({ status: 503, body: { errors: ["Vault is sealed"] } }, isLogin);
    // The login's own failure, retryable: not a denial.
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toStartWith("secret_backend_unavailable");
    clock += 10_000; // Vault is back
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-after-blip");
    expect(fake.logins).toBe(2);
    // A login that made a token still counts: the next dead token within the minute is not replaced.
    fake.revoke(String(fake.requests.at(-1)!.headers["x-vault-token"]));
    clock += 10_000;
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toStartWith("secret_permission_denied");
    expect(fake.logins).toBe(2);
  });

  test("a static token's TTL is looked up once and renewed in time", async () => {
    let clock = 5_000_000;
    const fake = await vault({ now: () => clock });
    fake.putKv2("kv/app", { password: "static-1" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"], 30), timeoutMs: 2000, now: () => clock });
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("static-1");
    clock += 25_000;
    expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("static-1");
    expect(fake.renewals).toBe(1);
  });

  test("reads that find the token due at the same time share one renewal", async () => {
    let clock = 7_000_000;
    const fake = await vault({ now: () => clock });
    for (const name of ["a", "b", "c", "d"]) fake.putKv2(`kv/${name}`, { password: `pw-${name}-1` });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"], 30), timeoutMs: 2000, now: () => clock });
    expect(await backend.read(ref("vault:kv/data/a#password"))).toBe("pw-a-1");
    clock += 25_000;
    const values = await Promise.all(["a", "b", "c", "d"].map((name) => backend.read(ref(`vault:kv/data/${name}#password`))));
    expect(values).toEqual(["pw-a-1", "pw-b-1", "pw-c-1", "pw-d-1"]);
    expect(fake.renewals).toBe(1);
  });

  test("trusts a Vault whose certificate a custom CA signed only when given that CA", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vault-ca-"));
    const file = (name: string) => path.join(dir, name);
    writeFileSync(file("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    const openssl = (args: string[]) => {
      const made = spawnSync("openssl", args, { encoding: "utf8" });
      if (made.status !== 0) throw new Error(`openssl ${args[0]} failed: ${made.stderr}`);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=vault test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", file("ca-key.pem"), "-out", file("ca.pem")]);
    openssl(["req", ...ec, "-subj", "/CN=localhost", "-keyout", file("key.pem"), "-out", file("cert.csr")]);
    openssl(["x509", "-req", "-in", file("cert.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca-key.pem"), "-CAcreateserial", "-days", "2", "-extfile", file("ext.cnf"), "-out", file("cert.pem")]);
    const fake = await vault({ tls: { key: readFileSync(file("key.pem"), "utf8"), cert: readFileSync(file("cert.pem"), "utf8") } });
    fake.putKv2("kv/app", { password: "over-tls-1" });
    const token = fake.token();
    const trusted = new VaultBackend({ addr: fake.url, token, caPem: readFileSync(file("ca.pem"), "utf8"), timeoutMs: 2000 });
    expect(await trusted.read(ref("vault:kv/data/app#password"))).toBe("over-tls-1");
    const untrusted = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    expect(await codeOf(untrusted.read(ref("vault:kv/data/app#password")))).toStartWith("secret_backend_unavailable");
  });

  test("5xx and timeouts are secret_backend_unavailable; a bad AppRole login is permission denied", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { password: "x-1234567" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(), timeoutMs: 300 });
    fake.fail({ status: 200, body: { data: { ttl: 0 } } }); // lookup-self
    fake.fail({ status: 503, body: { errors: ["Vault is sealed"] } });
    const sealed = await codeOf(backend.read(ref("vault:kv/data/app#password")));
    expect(sealed).toStartWith("secret_backend_unavailable");
    expect(sealed).toContain("Vault is sealed");
    fake.fail({ status: 200, body: {}, delayMs: 2000 });
    expect(await codeOf(backend.read(ref("vault:kv/data/app#password")))).toMatch(/^secret_backend_unavailable: .*within 300 ms/);
    const down = new VaultBackend({ addr: "http://127.0.0.1:9", token: "t", timeoutMs: 500 });
    expect(await codeOf(down.read(ref("vault:kv/data/app#password")))).toStartWith("secret_backend_unavailable");
    const badLogin = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "wrong", timeoutMs: 2000 });
    expect(await codeOf(badLogin.read(ref("vault:kv/data/app#password")))).toStartWith("secret_permission_denied");
  });
});

describe("VaultBackend's own tokens", () => {
  test("keeps refusing a token until its known TTL ends, past OWN_TOKENS_KEPT newer ones, and forgets it after", async () => {
    let clock = 1_000_000;
    const fake = await vault({ now: () => clock, loginTtlSec: 3600 });
    fake.putKv2("kv/app", { password: "pw-rotating-1" });
    const backend = new VaultBackend({ addr: fake.url, roleId: "role-1", secretId: "secret-id-1", timeoutMs: 2000, now: () => clock });
    const tokens: string[] = [];
    for (let i = 0; i < OWN_TOKENS_KEPT + 4; i++) {
      expect(await backend.read(ref("vault:kv/data/app#password"))).toBe("pw-rotating-1");
      tokens.push(String(fake.requests.at(-1)!.headers["x-vault-token"]));
      // Revoked behind the runner's back: the next read logs in again (the runner cannot know the
      // old one is dead), at most once per MIN_DENIAL_RECOVERY_MS.
      fake.revoke(tokens.at(-1)!);
      clock += MIN_DENIAL_RECOVERY_MS;
    }
    expect(fake.logins).toBe(OWN_TOKENS_KEPT + 4);
    fake.putKv2("kv/held", { first: tokens[0]! });
    expect(await codeOf(backend.read(ref("vault:kv/data/held#first")))).toStartWith("secret_permission_denied");
    clock += 3601_000; // every token's TTL has ended
    expect(await backend.read(ref("vault:kv/data/held#first"))).toBe(tokens[0]!);
  });

  test("keeps refusing the tokens it held lately, but not every token of its life: the set stays at OWN_TOKENS_KEPT rotated tokens (a token file rewritten by Vault Agent, here 20 times)", async () => {
    const fake = await vault();
    const dir = mkdtempSync(path.join(tmpdir(), "edge-runner-vault-own-"));
    const file = path.join(dir, "token");
    const tokens: string[] = [];
    const backend = new VaultBackend({ addr: fake.url, tokenFile: file, timeoutMs: 2000 });
    for (let i = 0; i < 20; i++) {
      const token = fake.token();
      tokens.push(token);
      // A different size each time, so the file's identity changes whatever the clock's resolution.
      writeFileSync(file, `${token}${"\n".repeat(i % 2)}`, { mode: 0o600 });
      fake.putKv2("kv/held", { token });
      expect(await codeOf(backend.read(ref("vault:kv/data/held#token")))).toStartWith("secret_permission_denied");
    }
    // The latest ones are still refused anywhere they show up; the oldest, long replaced, is not held any more.
    fake.putKv2("kv/old", { recent: tokens[19 - (OWN_TOKENS_KEPT - 1)]!, oldest: tokens[0]! });
    expect(await codeOf(backend.read(ref("vault:kv/data/old#recent")))).toStartWith("secret_permission_denied");
    expect(await backend.read(ref("vault:kv/data/old#oldest"))).toBe(tokens[0]!);
  });
});

describe("VaultBackend's token TTLs", () => {
  /** A token file Vault Agent rewrites by rename, as its file sink does. */
  function tokenFile(first: string): { path: string; put(token: string): void } {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "edge-runner-vault-file-")), "token");
    const put = (token: string) => {
      writeFileSync(`${file}.new`, token, { mode: 0o600 });
      renameSync(`${file}.new`, file);
    };
    put(first);
    return { path: file, put };
  }

  /** A fake Vault holding kv/app#pw, and a backend reading it with T0 (a 30 s token) from a token file: read once. */
  async function readingWithTokenFile(pw: string, now: () => number) {
    const fake = await vault({ now });
    fake.putKv2("kv/app", { pw });
    const t0 = fake.token(["kv/"], 30);
    const file = tokenFile(t0);
    const backend = new VaultBackend({ addr: fake.url, token: t0, tokenFile: file.path, timeoutMs: 2000, now });
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe(pw);
    return { fake, t0, file, backend };
  }

  test("VaultBackend.read(): a token file rewritten while the old, revoked token's renewal is in flight reads with the new token (the refused renewal failed the read)", async () => {
    let clock = 7_000_000;
    const { fake, t0, file, backend } = await readingWithTokenFile("pw-renewal", () => clock);
    clock += 25_000; // past two thirds of T0's 30 s
    const t1 = fake.token();
    fake.revoke(t0);
    fake.slow((r) => r.path === "/v1/auth/token/renew-self" && r.headers["x-vault-token"] === t0, 300);
    const first = codeOf(backend.read(ref("vault:kv/data/app#pw"))); // renews T0: slow, then 403
    await Bun.sleep(50);
    file.put(t1);
    const second = codeOf(backend.read(ref("vault:kv/data/app#pw")));
    expect([await first, await second]).toEqual(["resolved", "resolved"]);
  });

  test("VaultBackend.read(): the old token's renewal ending after the token file was rewritten neither puts the old token back nor times the new one's renewal", async () => {
    let clock = 8_000_000;
    const { fake, t0, file, backend } = await readingWithTokenFile("pw-lease", () => clock);
    clock += 25_000;
    const t1 = fake.token(["kv/"], 10); // to be renewed after about 6.7 s
    fake.slow((r) => r.path === "/v1/auth/token/renew-self" && r.headers["x-vault-token"] === t0, 300);
    const first = codeOf(backend.read(ref("vault:kv/data/app#pw"))); // renews T0 (30 s lease): slow
    await Bun.sleep(50);
    file.put(t1);
    const second = codeOf(backend.read(ref("vault:kv/data/app#pw")));
    expect([await first, await second]).toEqual(["resolved", "resolved"]);
    const sent = () => fake.requests.at(-1)!.headers["x-vault-token"];
    expect(sent()).toBe(t1);
    clock += 8_000;
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("pw-lease");
    expect(sent()).toBe(t1);
    expect(fake.renewals).toBe(2); // T0's, and T1's at 8 s
    clock += 8_000; // T1 renewed at 8 s lives on; not renewed, it ended at 10 s
    expect(await codeOf(backend.read(ref("vault:kv/data/app#pw")))).toBe("resolved");
  });

  test("VaultBackend.read(): a token file rewritten while the old, dead token's lookup-self is in flight reads with the new token (the old one's 403 failed the read)", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { pw: "pw-rewritten" });
    const [t0, t1, t2] = [fake.token(), fake.token(), fake.token()];
    fake.revoke(t1); // T1 expired before Vault Agent wrote the next one
    const { path: file, put } = tokenFile(t0);
    const backend = new VaultBackend({ addr: fake.url, token: t0, tokenFile: file, timeoutMs: 2000 });
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("pw-rewritten");
    fake.slow((r) => r.path === "/v1/auth/token/lookup-self" && r.headers["x-vault-token"] === t1, 300);
    put(t1);
    const first = codeOf(backend.read(ref("vault:kv/data/app#pw"))); // looks T1 up: slow, then 403
    await Bun.sleep(50);
    put(t2);
    const second = codeOf(backend.read(ref("vault:kv/data/app#pw")));
    expect([await first, await second]).toEqual(["resolved", "resolved"]);
  });

  test("a token file rewritten while the old token's lookup-self is in flight: the new token is looked up itself, not given the old one's TTL (it was then forgotten as a job's value while still live)", async () => {
    let clock = 1_000_000_000;
    const ttl: Record<string, number> = { "hvs.T0aaaaaaaa": 0, "hvs.T1aaaaaaaa": 10, "hvs.T2aaaaaaaa": 3600, "hvs.T3aaaaaaaa": 3600 };
    // A stand-in for the shapes this needs (the fake Vault has no slow lookup): T1's lookup-self takes 300 ms.
    const server = Bun.serve({
      port: 0,
      async fetch(request) {
        const url = new URL(request.url);
        const token = request.headers.get("x-vault-token") ?? "";
        const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
        if (!(token in ttl)) return json(403, { errors: ["permission denied"] });
        if (url.pathname === "/v1/auth/token/lookup-self") {
          if (token === "hvs.T1aaaaaaaa") await Bun.sleep(300);
          return json(200, { data: { ttl: ttl[token], renewable: true } });
        }
        if (url.pathname === "/v1/auth/token/renew-self") return json(200, { auth: { client_token: token, lease_duration: ttl[token], renewable: true } });
        if (url.pathname === "/v1/kv/data/leak") return json(200, { data: { data: { t: "hvs.T2aaaaaaaa" }, metadata: { version: 1 } } });
        return json(200, { data: { data: { pw: "ok" }, metadata: { version: 1 } } });
      },
    });
    closers.push(async () => void server.stop(true));
    const { path: file, put } = tokenFile("hvs.T0aaaaaaaa");
    const backend = new VaultBackend({ addr: `http://127.0.0.1:${server.port}`, token: "hvs.T0aaaaaaaa", tokenFile: file, timeoutMs: 2000, now: () => clock });
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("ok");
    put("hvs.T1aaaaaaaa");
    const first = backend.read(ref("vault:kv/data/app#pw")); // looks T1 up (slow)
    await Bun.sleep(50);
    put("hvs.T2aaaaaaaa");
    const second = backend.read(ref("vault:kv/data/app#pw")); // T2: must not take T1's 10 s
    expect([await first, await second]).toEqual(["ok", "ok"]);
    expect(await codeOf(backend.read(ref("vault:kv/data/leak#t")))).toStartWith("secret_permission_denied");
    clock += 20_000; // T1's 10 s are over; T2 has about an hour left
    put("hvs.T3aaaaaaaa");
    expect(await codeOf(backend.read(ref("vault:kv/data/leak#t")))).toStartWith("secret_permission_denied");
  });
});
