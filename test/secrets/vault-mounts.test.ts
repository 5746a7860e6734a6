// Which mount a Vault path is in (sys/internal/ui/mounts/<path>, as `vault kv get` asks), against
// the fake Vault's mount table: KV v2 behind a namespace at the path's front or in a mount of more
// than one segment, KV v1 with a folder called data, the fallback where Vault does not say, the
// own-mount refusal, and the cache. The answer shape is Vault's documented one (docs/testing.md).

import { afterEach, describe, expect, test } from "bun:test";
import { MAX_MOUNTS_KEPT, MOUNT_INFO_TTL_MS, mountOf, VaultMounts } from "../../src/secrets/references/vault-mounts.ts";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { codeOf } from "../fakes/error-code.ts";
import { startFakeVault, type FakeVaultMount } from "../fakes/fake-vault.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const MOUNTS: FakeVaultMount[] = [
  { path: "kv/", type: "kv", version: "2" },
  { path: "ns1/kv/", type: "kv", version: "2" },
  { path: "team/kv/", type: "kv", version: "2" },
  { path: "legacy/", type: "kv", version: "1" },
];

async function vault(options: Parameters<typeof startFakeVault>[0] = {}) {
  const fake = await startFakeVault({ mounts: MOUNTS, ...options });
  closers.push(fake.close);
  return fake;
}

const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;
const isMountLookup = (r: { path: string }) => r.path.startsWith("/v1/sys/internal/ui/mounts/");

describe("VaultBackend and Vault's mounts", () => {
  test("VaultBackend.read() reads KV v2 behind a namespace at the path's front and in a mount of more than one segment (they were read as KV v1: no such field, and ?version was refused)", async () => {
    const fake = await vault();
    fake.putKv2("ns1/kv/app", { pw: "ns-pw-1" });
    fake.putKv2("ns1/kv/app", { pw: "ns-pw-2" });
    fake.putKv2("team/kv/app", { pw: "team-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/kv/", "team/kv/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:ns1/kv/data/app#pw"))).toBe("ns-pw-2");
    expect(await backend.read(ref("vault:ns1/kv/data/app?version=1#pw"))).toBe("ns-pw-1");
    expect(await backend.read(ref("vault:team/kv/data/app#pw"))).toBe("team-pw");
    // One lookup per mount, not per read.
    expect(fake.mountLookups).toBe(2);
    // KV v2's shape is still required of a KV v2 mount's answer.
    fake.fail({ status: 200, body: { data: { pw: "not-kv2-shaped" } } }, (r) => r.path === "/v1/ns1/kv/data/app");
    expect(await codeOf(backend.read(ref("vault:ns1/kv/data/app#pw")))).toStartWith('secret_corrupt: Cannot resolve secret "vault:ns1/kv/data/app#pw"');
  });

  test("VaultBackend.read() reads a KV v1 mount's folder called data as KV v1 (it was refused as not a KV v2 answer), and refuses ?version there", async () => {
    const fake = await vault();
    fake.putKv1("legacy/data/app", { pw: "v1-in-data-folder" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["legacy/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:legacy/data/app#pw"))).toBe("v1-in-data-folder");
    const message = await codeOf(backend.read(ref("vault:legacy/data/app?version=1#pw")));
    expect(message).toStartWith(`secret_reference_invalid: Cannot resolve secret "vault:legacy/data/app?version=1#pw"`);
    expect(message).toContain(`the mount "legacy/" is not KV v2`);
    expect(message).not.toContain("v1-in-data-folder");
  });

  test("VaultBackend.read() never reads an auth method's answer through a namespace called data as a KV v1 mount (a review's probe: another AppRole's role_id was handed to the job)", async () => {
    // Vault answers an auth mount's lookup with its path in the auth table (approle/), no auth/ in it.
    const fake = await vault({ mounts: [...MOUNTS, { path: "approle/data/auth/approle/", type: "approle", version: null, answerPath: "approle/data/approle/" }] });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["approle/"]), timeoutMs: 2000 });
    fake.fail({ status: 200, body: { data: { role_id: "deploy-role-id-0000" } } }, (r) => r.path === "/v1/approle/data/auth/approle/role/deploy/role-id");
    const message = await codeOf(backend.read(ref("vault:approle/data/auth/approle/role/deploy/role-id#role_id")));
    expect(message).toStartWith("secret_corrupt");
    expect(message).toContain("not a KV v2 answer");
    expect(message).not.toContain("deploy-role-id-0000");
  });

  test("VaultBackend.read(): a mount lookup a server does not serve (400, 405, 501) falls back to the path rule; any other failure is retried, never blamed on the token's policy", async () => {
    for (const status of [400, 405, 501]) {
      const fake = await vault();
      fake.putKv2("kv/app", { pw: "kv-pw" });
      const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"]), timeoutMs: 2000 });
      fake.fail({ status, body: { errors: ["unsupported path"] } }, isMountLookup);
      expect({ status, value: await backend.read(ref("vault:kv/data/app#pw")) }).toEqual({ status, value: "kv-pw" });
    }
    const fake = await vault();
    fake.putKv2("kv/app", { pw: "kv-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"]), timeoutMs: 2000 });
    fake.fail({ status: 401, body: { errors: ["no"] } }, isMountLookup);
    const error = await backend.read(ref("vault:kv/data/app#pw")).then(() => undefined, (e: unknown) => e as { code?: string; retryable?: boolean; message?: string });
    expect({ code: error?.code, retryable: error?.retryable }).toEqual({ code: "secret_backend_unavailable", retryable: true });
    expect(error?.message).toContain("asking which mount the path is in");
    expect(error?.message).not.toContain("check the token's policy");
  });

  test("VaultBackend.read() with X-Vault-Namespace: a child namespace's mount, answered with the full namespace path in front, is read as KV v2", async () => {
    const fake = await vault({ namespace: "team-a", mounts: [{ path: "child/kv/", type: "kv", version: "2", answerPath: "team-a/child/kv/" }] });
    fake.putKv2("child/kv/app", { pw: "child-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["child/kv/"]), namespace: "team-a", timeoutMs: 2000 });
    expect(await backend.read(ref("vault:child/kv/data/app?version=1#pw"))).toBe("child-pw");
  });

  test("VaultBackend.read(): where sys/internal/ui/mounts answers 403, the path's own rule decides (MOUNT/data/… with a mount of one segment), and the 403 is not kept", async () => {
    const fake = await vault();
    fake.putKv2("kv/app", { pw: "kv-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"]), timeoutMs: 2000 });
    fake.fail({ status: 403, body: { errors: ["permission denied"] } }, isMountLookup);
    expect(await backend.read(ref("vault:kv/data/app?version=1#pw"))).toBe("kv-pw");
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("kv-pw");
    expect(fake.mountLookups).toBe(1); // the first, refused by the injected 403, was not counted by the fake's handler
    expect(fake.requests.filter(isMountLookup).length).toBe(2);
  });

  test("VaultBackend.read(): a failed mount lookup (5xx) fails the read as secret_backend_unavailable, retryable, not as a misread value", async () => {
    const fake = await vault();
    fake.putKv2("ns1/kv/app", { pw: "ns-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/kv/"]), timeoutMs: 2000 });
    fake.fail({ status: 503, body: { errors: ["Vault is sealed"] } }, isMountLookup);
    const failed = await backend.read(ref("vault:ns1/kv/data/app#pw")).then(() => undefined, (e: unknown) => e as { code: string; retryable: boolean; message: string });
    expect(failed?.code).toBe("secret_backend_unavailable");
    expect(failed?.retryable).toBe(true);
    expect(failed?.message).toContain("(asking which mount the path is in): Vault answered 503");
    expect(await backend.read(ref("vault:ns1/kv/data/app#pw"))).toBe("ns-pw");
  });

  test("VaultBackend.read() refuses a path Vault places in one of its own mounts, even when the answer had KV v2's shape (a namespace called data: ns/data/auth/token/… was taken)", async () => {
    const fake = await vault({ mounts: [...MOUNTS, { path: "ns/data/auth/token/", type: "ns_token", version: null }] });
    const token = fake.token(["ns/"]);
    const backend = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    const raw = "vault:ns/data/auth/token/lookup-self#id";
    fake.fail({ status: 200, body: { data: { data: { id: token }, metadata: { version: 1 } } } }, (r) => r.path === "/v1/ns/data/auth/token/lookup-self");
    const message = await codeOf(backend.read(ref(raw)));
    expect(message).toStartWith(`secret_reference_invalid: Cannot resolve secret "${raw}"`);
    expect(message).toContain("Vault says the path is in one of its own mounts");
    expect(message).not.toContain(token);
  });

  test("VaultBackend.read() asks again once MOUNT_INFO_TTL_MS is over (a mount made KV v2 by `vault kv enable-versioning` is found)", async () => {
    let clock = 1_000_000;
    const fake = await vault({ now: () => clock });
    fake.putKv2("kv/app", { pw: "kv-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["kv/"]), timeoutMs: 2000, now: () => clock });
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("kv-pw");
    clock += MOUNT_INFO_TTL_MS - 1;
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("kv-pw");
    expect(fake.mountLookups).toBe(1);
    clock += 1;
    expect(await backend.read(ref("vault:kv/data/app#pw"))).toBe("kv-pw");
    expect(fake.mountLookups).toBe(2);
  });
});

describe("VaultMounts", () => {
  const answer = (path: unknown, type: unknown = "kv", options: unknown = { version: "2" }) => ({ data: { path, type, options } });

  test("mountOf() reads data.path, data.type and data.options.version, and refuses what is not such an answer", () => {
    expect(mountOf(answer("ns1/kv/"), "ns1/kv/data/app")).toEqual({ path: "ns1/kv/", kv2: true, own: false });
    expect(mountOf(answer("kv/", "kv", { version: "1" }), "kv/data/app")).toEqual({ path: "kv/", kv2: false, own: false });
    expect(mountOf(answer("kv/", "kv", null), "kv/data/app")).toEqual({ path: "kv/", kv2: false, own: false });
    expect(mountOf(answer("kv/", "generic", { version: "2" }), "kv/data/app")).toEqual({ path: "kv/", kv2: false, own: false });
    // A child namespace's full path in front: the runner's own namespace is taken off, nothing else; own names anywhere count.
    expect(mountOf(answer("team-a/child/kv/"), "child/kv/data/app", "team-a")).toEqual({ path: "child/kv/", kv2: true, own: false });
    expect(mountOf(answer("team-a/child/kv/"), "child/kv/data/app", "/team-a/")).toEqual({ path: "child/kv/", kv2: true, own: false });
    expect(mountOf(answer("team-a/child/kv/"), "child/kv/data/app")).toBeUndefined();
    // An auth method's answer has no auth/ (Vault answers its path in the auth table): in a
    // namespace called approle/data it once fitted the path as a KV v1 mount approle/ (a review's probe).
    expect(mountOf(answer("approle/data/approle/", "approle", null), "approle/data/auth/approle/role/deploy/role-id")).toBeUndefined();
    expect(mountOf(answer("ns/data/sys/", "ns_system", null), "ns/data/sys/policy/x")).toEqual({ path: "ns/data/sys/", kv2: false, own: true });
    for (const bad of [answer("other/"), answer("kv"), answer("/"), answer(7), answer("kv/", 2), { data: null }, null, "text", { pw: "x" }]) {
      expect(mountOf(bad, "kv/data/app")).toBeUndefined();
    }
  });

  test("VaultMounts.of() keeps at most MAX_MOUNTS_KEPT mounts, the oldest leaving first, and nothing from a 403 or 404", async () => {
    const mounts = new VaultMounts(() => 0);
    const asked: string[] = [];
    const get = async (apiPath: string) => {
      asked.push(apiPath);
      const path = apiPath.slice("sys/internal/ui/mounts/".length);
      if (path.startsWith("denied/")) throw Object.assign(new Error("denied"), { response: { statusCode: 403 } });
      return answer(`${path.split("/")[0]}/`);
    };
    for (let i = 0; i <= MAX_MOUNTS_KEPT; i++) await mounts.of(`m${i}/data/app`, undefined, get);
    expect(asked.length).toBe(MAX_MOUNTS_KEPT + 1);
    await mounts.of(`m${MAX_MOUNTS_KEPT}/data/other`, undefined, get);
    expect(asked.length).toBe(MAX_MOUNTS_KEPT + 1);
    await mounts.of("m0/data/app", undefined, get); // the oldest left
    expect(asked.length).toBe(MAX_MOUNTS_KEPT + 2);
    expect(await mounts.of("denied/data/app", undefined, get)).toBeUndefined();
    expect(await mounts.of("denied/data/app", undefined, get)).toBeUndefined();
    expect(asked.length).toBe(MAX_MOUNTS_KEPT + 4);
    const failing = async () => {
      throw Object.assign(new Error("sealed"), { response: { statusCode: 503 } });
    };
    expect(await codeOfError(mounts.of("x/data/app", undefined, failing))).toBe("sealed");
  });
});

async function codeOfError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).message;
  }
  return "resolved";
}

describe("parseReference() and KV v2 mounts of more than one segment", () => {
  test("parseReference() takes ?version=N on a path with data/ after its first segment (ns1/kv/data/app was refused), not where no mount can make it KV v2", () => {
    expect(parseReference("vault:ns1/kv/data/app?version=2#pw")).toMatchObject({ path: "ns1/kv/data/app", version: 2 });
    expect(parseReference("vault:team/kv/data/app#pw?version=3")).toMatchObject({ path: "team/kv/data/app", version: 3 });
    for (const raw of ["vault:kv/app/data?version=1#f", "vault:data/kv/app?version=1#f", "vault:team/kv/app?version=1#f"]) {
      expect(() => parseReference(raw)).toThrow("?version=N pins a KV v2 version");
    }
  });
});
