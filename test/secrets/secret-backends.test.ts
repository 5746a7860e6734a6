import { describe, expect, test } from "bun:test";
import { mkdtemp, realpath, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { SecretBackends } from "../../src/secrets/references/secret-backends.ts";
import { startFakeGcp } from "../fakes/fake-gcp.ts";
import { startFakeVault } from "../fakes/fake-vault.ts";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code: string }).code;
  }
  return "resolved";
}

describe("parseReference()", () => {
  test("parses every scheme and refuses bad ones with secret_reference_invalid", () => {
    expect(parseReference("db/password")).toEqual({ backend: "controller", raw: "db/password", name: "db/password" });
    expect(parseReference("controller:x")).toMatchObject({ backend: "controller", name: "x" });
    expect(parseReference("vault:kv/data/app?version=3#pw")).toMatchObject({ backend: "vault", path: "kv/data/app", field: "pw", version: 3 });
    expect(parseReference("gcp:projects/p-1/secrets/s_1")).toMatchObject({ backend: "gcp", project: "p-1", secret: "s_1", version: "latest" });
    expect(parseReference("env:HOME")).toMatchObject({ backend: "env", name: "HOME" });
    expect(parseReference("file:/etc/x")).toMatchObject({ backend: "file", path: "/etc/x" });
    for (const bad of ["aws:x", "vault:kv/data/app", "vault:kv/../x#f", "vault:kv#f?version=0", "gcp:p/s", "env:1A", "file:relative", ""]) {
      expect(() => parseReference(bad)).toThrow();
      try {
        parseReference(bad);
      } catch (error) {
        expect((error as { code: string }).code).toBe("secret_reference_invalid");
      }
    }
  });

  test("refuses Vault's own API paths and . segments, naming the reference", () => {
    const refused = [
      "vault:auth/token/lookup-self#id",
      "vault:/auth/token/lookup-self#id",
      "vault:AUTH/token/lookup-self#id",
      "vault:sys/mounts#data",
      "vault:identity/oidc/token/runner#token",
      "vault:cubbyhole/notes#x",
      "vault:./auth/token/lookup-self#id",
      "vault:kv/./data/app#x",
    ];
    for (const raw of refused) {
      let caught: unknown;
      try {
        parseReference(raw);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: "secret_reference_invalid" });
      expect((caught as Error).message).toContain(raw);
    }
    // A secret engine mounted under a name that only starts like one of Vault's own is fine.
    expect(parseReference("vault:authors/data/app#pw")).toMatchObject({ backend: "vault", path: "authors/data/app" });
  });

  test("refuses Vault's own API paths after a namespace prefix (Vault Enterprise and HCP read namespaces from the path), and keeps KV paths", () => {
    const refused = [
      "vault:ns1/auth/token/lookup-self#id",
      "vault:ns1/sys/wrapping/lookup#x",
      "vault:child/identity/oidc/token/r#token",
      "vault:a/b/Cubbyhole/notes#x",
      // A namespace may be called data: "before the first data segment" would not be enough.
      "vault:data/auth/token/lookup-self#id",
      // KV v1 has no shape to tell a folder from a namespace.
      "vault:secret/sys/db#pw",
      "vault:sys/data/db#pw",
      // Up to a KV v2 path's data/ every segment counts: a namespace, then the mount.
      "vault:ns1/sys/data/db#pw",
      "vault:ns1/Auth/data/token/x#pw",
      "vault:a/identity/kv/data/x#pw",
    ];
    for (const raw of refused) {
      let caught: unknown;
      try {
        parseReference(raw);
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code: "secret_reference_invalid" });
      expect((caught as Error).message).toContain(raw);
    }
    // An own name as the last segment is a secret's name (KV v1 and v2), and namespaced KV paths parse.
    expect(parseReference("vault:kv/app/auth#pw")).toMatchObject({ path: "kv/app/auth" });
    expect(parseReference("vault:kv/data/app/identity#pw")).toMatchObject({ path: "kv/data/app/identity" });
    expect(parseReference("vault:ns1/kv/data/app#pw")).toMatchObject({ path: "ns1/kv/data/app" });
    expect(parseReference("vault:secret/legacy/app#pw")).toMatchObject({ path: "secret/legacy/app" });
  });

  test("parseReference() keeps a KV v2 folder named like Vault's own mounts (secret/data/sys/db was refused): only the mount position counts", () => {
    for (const raw of ["vault:secret/data/sys/db#pw", "vault:kv/data/app/auth/db#pw", "vault:kv/data/Identity/x#f", "vault:kv/data/cubbyhole/a/b#f?version=2"]) {
      expect(parseReference(raw)).toMatchObject({ backend: "vault" });
    }
  });

  test("parseReference() keeps a KV v2 folder named like Vault's own mounts behind a namespace or in a mount of two segments (ns1/secret/data/sys/foo was refused)", () => {
    for (const raw of ["vault:ns1/secret/data/sys/foo#pw", "vault:ns1/secret/data/auth/foo#pw", "vault:team/kv/data/sys/db#pw", "vault:a/b/kv/data/identity/x/y#f?version=3", "vault:ns1/kv/data/cubbyhole/z#f"]) {
      expect(parseReference(raw)).toMatchObject({ backend: "vault", path: raw.slice("vault:".length).replace(/[#?].*$/, "") });
    }
  });

  test("refuses ?version=N on a path that is not KV v2 (KV v1 ignored it and answered the current value)", () => {
    for (const raw of ["vault:secret/legacy/app?version=2#password", "vault:secret/app#pw?version=1", "vault:kv?version=1#f"]) {
      expect(() => parseReference(raw)).toThrow(/is not a KV v2 path/);
    }
    expect(parseReference("vault:kv/data/app?version=2#pw")).toMatchObject({ version: 2 });
  });

  test("refuses a repeated or percent-encoded ?version (the version read would differ from the one written)", () => {
    for (const raw of ["vault:kv/data/x?version=1&version=9#f", "vault:kv/data/x?version=1%30#f", "vault:kv/data/x?%76ersion=2#f", "vault:kv/data/x#f?version=2&version=3", "vault:kv/data/x?version=+2#f"]) {
      expect(() => parseReference(raw)).toThrow(/the only query is \?version=N/);
    }
    expect(parseReference("vault:kv/data/x#f?version=12")).toMatchObject({ version: 12, field: "f" });
  });
});

describe("SecretBackends.resolve()", () => {
  test("checks declarations, resolves env and file, counts outcomes and keeps backend health", async () => {
    const dir = await mkdtemp(join(tmpdir(), "backends-"));
    await writeFile(join(dir, "secret.txt"), "from-a-file-1\n");
    const backends = new SecretBackends({ registerSecret: () => {}, env: { TOKEN_X: "env-value-123" }, envNames: ["TOKEN_X", "NOPE"], fileDir: { path: dir, realPath: await realpath(dir) } });
    const job = (declared: string[]) => ({ jobId: "j1", attempt: 1, declared });
    const signal = new AbortController().signal;
    expect(await backends.resolve("env:TOKEN_X", job(["env:TOKEN_X"]), signal)).toBe("env-value-123");
    expect(await backends.resolve(`file:${dir}/secret.txt`, job([`file:${dir}/secret.txt`]), signal)).toBe("from-a-file-1");
    expect(await codeOf(backends.resolve("env:TOKEN_X", job([]), signal))).toBe("secret_not_found");
    expect(await codeOf(backends.resolve("env:NOPE", job(["env:NOPE"]), signal))).toBe("secret_not_found");
    expect(await codeOf(backends.resolve("aws:thing", job(["aws:thing"]), signal))).toBe("secret_reference_invalid");
    expect(await codeOf(backends.resolve("vault:kv/data/a#b", job(["vault:kv/data/a#b"]), signal))).toBe("secret_backend_unavailable");
    expect(await codeOf(backends.resolve("gcp:projects/p/secrets/s", job(["gcp:projects/p/secrets/s"]), signal))).toBe("secret_backend_unavailable");
    const counts = backends.counts();
    expect(counts).toContainEqual({ backend: "env", outcome: "ok", count: 1 });
    expect(counts).toContainEqual({ backend: "env", outcome: "not_found", count: 2 });
    expect(counts).toContainEqual({ backend: "vault", outcome: "unavailable", count: 1 });
    const vault = backends.health().find((h) => h.backend === "vault")!;
    expect(vault.configured).toBe(false);
    expect(vault.lastError?.code).toBe("secret_backend_unavailable");
  });

  test("an empty value is secret_not_found from every backend (env: refused it, Vault, GCP and file: gave \"\")", async () => {
    const vault = await startFakeVault();
    const gcp = await startFakeGcp();
    try {
      vault.putKv2("kv/app", { password: "" });
      vault.putKv1("secret/app", { password: "" });
      gcp.addVersion("projects/p/secrets/empty", "");
      const dir = await mkdtemp(join(tmpdir(), "backends-"));
      await writeFile(join(dir, "empty.txt"), "\n");
      const refs = ["vault:kv/data/app#password", "vault:secret/app#password", "gcp:projects/p/secrets/empty", `file:${dir}/empty.txt`, "env:EMPTY_ONE", "controller:empty"];
      const backends = new SecretBackends({
        registerSecret: () => {},
        vault: { addr: vault.url, token: vault.token(), timeoutMs: 2000 },
        gcp: { endpoint: gcp.url, metadataUrl: gcp.url, timeoutMs: 2000 },
        fileDir: { path: dir, realPath: await realpath(dir) },
        env: { EMPTY_ONE: "" },
        envNames: ["EMPTY_ONE"],
        controller: async () => "",
      });
      for (const raw of refs) {
        const error = await backends.resolve(raw, { jobId: "j", attempt: 1, declared: refs }, new AbortController().signal).catch((e: unknown) => e as Error);
        expect(error).toMatchObject({ code: "secret_not_found" });
        expect((error as Error).message).toContain(raw);
      }
    } finally {
      await vault.close();
      await gcp.close();
    }
  });

  test("SecretBackends.resolve() refuses a value that holds another backend's own credential (a Vault secret_id in Secret Manager, a key file in the controller's store…): they were handed to the job", async () => {
    const vault = await startFakeVault({ roleId: "role-id-of-runner", secretId: "secret-id-of-runner" });
    const gcp = await startFakeGcp();
    try {
      const key = (JSON.parse(gcp.serviceAccountJson) as { private_key: string }).private_key;
      const hex = (text: string) => Buffer.from(text).toString("hex");
      vault.putKv2("kv/app", { gcpKey: gcp.serviceAccountJson, fine: "vault-ordinary" });
      gcp.addVersion("projects/p/secrets/vault-secret-id", hex("secret-id-of-runner\n"));
      gcp.addVersion("projects/p/secrets/fine", "gcp-ordinary");
      const dir = await mkdtemp(join(tmpdir(), "backends-"));
      await writeFile(join(dir, "sa.json.b64"), Buffer.from(gcp.serviceAccountJson).toString("base64"));
      const backends = new SecretBackends({
        registerSecret: () => {},
        vault: { addr: vault.url, roleId: "role-id-of-runner", secretId: "secret-id-of-runner", timeoutMs: 2000 },
        gcp: { endpoint: gcp.url, serviceAccountJson: gcp.serviceAccountJson, timeoutMs: 2000 },
        fileDir: { path: dir, realPath: await realpath(dir) },
        env: { DEPLOY_ROLE: "role-id-of-runner" },
        envNames: ["DEPLOY_ROLE"],
        controller: async (ref) => (ref === "controller:sa" ? JSON.stringify({ credentials: gcp.serviceAccountJson }) : "controller-ordinary"),
      });
      const refused = ["gcp:projects/p/secrets/vault-secret-id", "vault:kv/data/app#gcpKey", `file:${dir}/sa.json.b64`, "env:DEPLOY_ROLE", "controller:sa"];
      const fine = ["vault:kv/data/app#fine", "gcp:projects/p/secrets/fine", "controller:ok"];
      const job = { jobId: "j", attempt: 1, declared: [...refused, ...fine] };
      // Before any Vault or GCP read (credentials as configured), and after both (as the loaded backends hold them).
      for (const round of [1, 2]) {
        for (const raw of refused) {
          const error = await backends.resolve(raw, { ...job, attempt: round }, new AbortController().signal).catch((e: unknown) => e as Error);
          expect({ raw, code: (error as { code?: string }).code }).toEqual({ raw, code: "secret_permission_denied" });
          expect((error as Error).message).toContain(raw);
          expect((error as Error).message).not.toContain("secret-id-of-runner");
          expect((error as Error).message).not.toContain(key.slice(40, 80));
        }
        for (const raw of fine) expect(await backends.resolve(raw, { ...job, attempt: round }, new AbortController().signal)).toContain("ordinary");
      }
      // The GCP access token the runner fetched, kept in Vault.
      const token = String(gcp.requests.find((r) => r.path.includes(":access"))?.headers.authorization).replace(/^Bearer /, "");
      vault.putKv2("kv/leak", { t: token });
      expect(await codeOf(backends.resolve("vault:kv/data/leak#t", { jobId: "j", attempt: 3, declared: ["vault:kv/data/leak#t"] }, new AbortController().signal))).toBe("secret_permission_denied");
    } finally {
      await vault.close();
      await gcp.close();
    }
  });

  test("SecretBackends.resolve() refuses a value that holds the runner's controller credential (its API key, meshStack's client secret) from every backend, the controller's store included: it was handed to the job", async () => {
    const apiKey = "erk_Rk4vQ9mZt2Lx8Pw3Nc7Hb1Yd6Sg5Jf0A";
    const vault = await startFakeVault({ roleId: "role-id-of-runner", secretId: "secret-id-of-runner" });
    const gcp = await startFakeGcp();
    try {
      vault.putKv2("kv/app", { runnerKey: `EDGE_RUNNER_API_KEY=${apiKey}\n`, fine: "vault-ordinary" });
      gcp.addVersion("projects/p/secrets/runner-key", Buffer.from(JSON.stringify({ apiKey })).toString("hex"));
      gcp.addVersion("projects/p/secrets/fine", "gcp-ordinary");
      const dir = await mkdtemp(join(tmpdir(), "backends-"));
      await writeFile(join(dir, "api-key"), `${apiKey}\n`);
      const store: Record<string, string> = {
        "controller:key": apiKey,
        "controller:key-b64": Buffer.from(apiKey).toString("base64"),
        "controller:key-url": encodeURIComponent(JSON.stringify({ headers: { authorization: `Bearer ${apiKey}` } })),
      };
      const backends = new SecretBackends({
        registerSecret: () => {},
        controllerCredentials: [apiKey],
        vault: { addr: vault.url, roleId: "role-id-of-runner", secretId: "secret-id-of-runner", timeoutMs: 2000 },
        gcp: { endpoint: gcp.url, serviceAccountJson: gcp.serviceAccountJson, timeoutMs: 2000 },
        fileDir: { path: dir, realPath: await realpath(dir) },
        env: { DEPLOY_KEY: apiKey },
        envNames: ["DEPLOY_KEY"],
        controller: async (ref) => store[ref] ?? "controller-ordinary",
      });
      const refused = [...Object.keys(store), "vault:kv/data/app#runnerKey", "gcp:projects/p/secrets/runner-key", `file:${dir}/api-key`, "env:DEPLOY_KEY"];
      const fine = ["controller:ok", "vault:kv/data/app#fine", "gcp:projects/p/secrets/fine"];
      const job = { jobId: "j", attempt: 1, declared: [...refused, ...fine] };
      for (const raw of refused) {
        const error = await backends.resolve(raw, job, new AbortController().signal).catch((e: unknown) => e as Error);
        expect({ raw, code: (error as { code?: string }).code }).toEqual({ raw, code: "secret_permission_denied" });
        expect((error as Error).message).toContain(raw);
        expect((error as Error).message).toContain("controller API key");
        expect((error as Error).message).not.toContain(apiKey);
      }
      for (const raw of fine) expect(await backends.resolve(raw, job, new AbortController().signal)).toContain("ordinary");
    } finally {
      await vault.close();
      await gcp.close();
    }
  });

  test("a job's cancel ends a Vault or GCP read at once (job_cancelled), counted as cancelled and not as the backend's error", async () => {
    const vault = await startFakeVault();
    const gcp = await startFakeGcp();
    try {
      vault.putKv2("kv/app", { pw: "cancel-pw-1" });
      gcp.addVersion("projects/p/secrets/s", "cancel-gcp-1");
      const refs = ["vault:kv/data/app#pw", "gcp:projects/p/secrets/s"];
      const backends = new SecretBackends({
        registerSecret: () => {},
        vault: { addr: vault.url, token: vault.token(), timeoutMs: 10_000 },
        gcp: { endpoint: gcp.url, metadataUrl: gcp.url, timeoutMs: 10_000 },
      });
      const job = { jobId: "j", attempt: 1, declared: refs };
      // Warm: the Vault token's lookup and the GCP token are done, so the next call is the read.
      for (const raw of refs) await backends.resolve(raw, job, new AbortController().signal);
      vault.fail({ status: 200, body: {}, delayMs: 8000 });
      gcp.failAccess({ status: 200, body: {}, delayMs: 8000 });
      for (const raw of refs) {
        const cancel = new AbortController();
        const started = Date.now();
        const read = backends.resolve(raw, { ...job, attempt: 2 }, cancel.signal).catch((e: unknown) => e as Error);
        setTimeout(() => cancel.abort(), 50);
        const error = await read;
        expect(error).toMatchObject({ code: "job_cancelled" });
        expect((error as Error).message).toContain(raw);
        expect(Date.now() - started).toBeLessThan(4000);
      }
      for (const backend of ["vault", "gcp"] as const) {
        expect(backends.health().find((h) => h.backend === backend)?.lastError).toBeUndefined();
        expect(backends.counts()).toContainEqual({ backend, outcome: "cancelled", count: 1 });
      }
    } finally {
      await vault.close();
      await gcp.close();
    }
  });

  test("a Vault that goes down is reported in health with its last success kept", async () => {
    const fake = await startFakeVault();
    try {
      fake.putKv2("kv/app", { pw: "health-pw-1" });
      let now = 1000;
      const backends = new SecretBackends({ registerSecret: () => {}, vault: { addr: fake.url, token: fake.token(), timeoutMs: 2000 }, now: () => now });
      const job = { jobId: "j", attempt: 1, declared: ["vault:kv/data/app#pw"] };
      expect(await backends.resolve("vault:kv/data/app#pw", job, new AbortController().signal)).toBe("health-pw-1");
      now = 2000;
      fake.fail({ status: 500, body: { errors: ["internal error"] } });
      expect(await codeOf(backends.resolve("vault:kv/data/app#pw", job, new AbortController().signal))).toBe("secret_backend_unavailable");
      const health = backends.health().find((h) => h.backend === "vault")!;
      expect(health).toMatchObject({ configured: true, lastSuccessAt: 1000, lastErrorAt: 2000 });
      expect(health.lastError?.message).not.toContain("health-pw-1");
    } finally {
      await fake.close();
    }
  });

  test("concurrent reads of one reference by one job attempt share one backend read", async () => {
    const fake = await startFakeVault();
    try {
      fake.putKv2("kv/app", { pw: "shared-pw-1" });
      const backends = new SecretBackends({ registerSecret: () => {}, vault: { addr: fake.url, token: fake.token(), timeoutMs: 2000 } });
      const raw = "vault:kv/data/app#pw";
      const job = (jobId: string, attempt = 1) => ({ jobId, attempt, declared: [raw] });
      const signal = new AbortController().signal;
      const reads = () => fake.requests.filter((r) => r.path === "/v1/kv/data/app").length;
      const values = await Promise.all([1, 2, 3, 4, 5].map(() => backends.resolve(raw, job("j1"), signal)));
      expect(values).toEqual(Array(5).fill("shared-pw-1"));
      expect(reads()).toBe(1);
      expect(backends.counts()).toContainEqual({ backend: "vault", outcome: "ok", count: 1 });
      // Another job, or another attempt, reads for itself; a read after the first settled reads again.
      await Promise.all([backends.resolve(raw, job("j2"), signal), backends.resolve(raw, job("j1", 2), signal)]);
      expect(reads()).toBe(3);
      await backends.resolve(raw, job("j1"), signal);
      expect(reads()).toBe(4);
      // A failure is shared too, each waiter gets it.
      const missing = "vault:kv/data/nope#pw";
      const failed = await Promise.all([1, 2].map(() => codeOf(backends.resolve(missing, { jobId: "j1", attempt: 1, declared: [missing] }, signal))));
      expect(failed).toEqual(["secret_not_found", "secret_not_found"]);
      expect(fake.requests.filter((r) => r.path === "/v1/kv/data/nope").length).toBe(1);
    } finally {
      await fake.close();
    }
  });
});
