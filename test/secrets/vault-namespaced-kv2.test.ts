// KV v2 behind a namespace named at the path's front (Vault Enterprise, HCP: `ns1/secret/data/…`)
// against the fake Vault: a folder named like Vault's own mounts below data/, and what the read
// takes where Vault does not say which mount the path is in (docs/secrets.md).

import { afterEach, describe, expect, test } from "bun:test";
import { VaultBackend } from "../../src/secrets/references/vault-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { codeOf } from "../fakes/error-code.ts";
import { startFakeVault, type FakeVaultMount } from "../fakes/fake-vault.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const MOUNTS: FakeVaultMount[] = [
  { path: "ns1/secret/", type: "kv", version: "2" },
  { path: "legacy/", type: "kv", version: "1" },
];

async function vault(options: Parameters<typeof startFakeVault>[0] = {}) {
  const fake = await startFakeVault({ mounts: MOUNTS, ...options });
  closers.push(fake.close);
  return fake;
}

const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "vault" }>;
const isMountLookup = (r: { path: string }) => r.path.startsWith("/v1/sys/internal/ui/mounts/");

describe("VaultBackend with KV v2 behind a namespace", () => {
  test("VaultBackend.read() reads ns1/secret/data/sys/foo and …/auth/foo, folders named like Vault's own mounts (refused when parsed before)", async () => {
    const fake = await vault();
    fake.putKv2("ns1/secret/sys/foo", { pw: "pw-in-sys-folder" });
    fake.putKv2("ns1/secret/auth/foo", { pw: "pw-in-auth-folder" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/secret/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:ns1/secret/data/sys/foo#pw"))).toBe("pw-in-sys-folder");
    expect(await backend.read(ref("vault:ns1/secret/data/auth/foo?version=1#pw"))).toBe("pw-in-auth-folder");
  });

  test("VaultBackend.read(): where Vault does not say, a folder named like an own mount below data/ is taken only as a KV v2 answer (namespace ns1/secret/data and its auth/token/lookup-self, identity/oidc/token)", async () => {
    const fake = await vault();
    const token = fake.token(["ns1/secret/"]);
    const backend = new VaultBackend({ addr: fake.url, token, timeoutMs: 2000 });
    fake.refuseMountLookups();
    for (const [raw, body] of [
      ["vault:ns1/secret/data/auth/token/lookup-self#id", { data: { id: token, policies: ["default"] } }],
      ["vault:ns1/secret/data/identity/oidc/token/r#token", { data: { client_id: "c", token: "eyJ.minted.jwt", ttl: 300 } }],
      ["vault:ns1/secret/data/sys/policy/default#rules", { data: { name: "default", rules: "path \"x\" {}" } }],
    ] as const) {
      const apiPath = `/v1/${ref(raw).path}`;
      fake.fail({ status: 200, body }, (r) => r.path === apiPath);
      const message = await codeOf(backend.read(ref(raw)));
      expect(message).toStartWith(`secret_corrupt: Cannot resolve secret "${raw}"`);
      expect(message).toContain("not a KV v2 answer");
      expect(message).not.toContain(token);
      expect(message).not.toContain("eyJ.minted.jwt");
    }
  });

  test("VaultBackend.read() refuses ns1/secret/data/sys/… where Vault says the path is in one of its own mounts", async () => {
    const fake = await vault({ mounts: [...MOUNTS, { path: "ns1/secret/data/sys/", type: "system", version: null }] });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/secret/"]), timeoutMs: 2000 });
    fake.fail({ status: 200, body: { data: { data: { rules: "x" }, metadata: { version: 1 } } } }, (r) => r.path === "/v1/ns1/secret/data/sys/policy/default");
    expect(await codeOf(backend.read(ref("vault:ns1/secret/data/sys/policy/default#rules")))).toContain("Vault says the path is in one of its own mounts");
  });

  test("VaultBackend.read(): where every mount lookup answers 403, a namespaced KV v2 path is read by its answer's shape (it was read as KV v1: no such field), a KV v1 folder called data as KV v1 (it was refused as not KV v2)", async () => {
    const fake = await vault();
    fake.putKv2("ns1/secret/app", { pw: "ns-pw-1" });
    fake.putKv2("ns1/secret/app", { pw: "ns-pw-2" });
    fake.putKv1("legacy/data/app", { pw: "v1-in-data-folder" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/secret/", "legacy/"]), timeoutMs: 2000 });
    fake.refuseMountLookups();
    expect(await backend.read(ref("vault:ns1/secret/data/app#pw"))).toBe("ns-pw-2");
    expect(await backend.read(ref("vault:ns1/secret/data/app?version=1#pw"))).toBe("ns-pw-1");
    expect(await backend.read(ref("vault:legacy/data/app#pw"))).toBe("v1-in-data-folder");
    // A pin on what is not a KV v2 answer is refused: KV v1 ignores ?version.
    const pinned = await codeOf(backend.read(ref("vault:legacy/data/app?version=1#pw")));
    expect(pinned).toStartWith(`secret_reference_invalid: Cannot resolve secret "vault:legacy/data/app?version=1#pw"`);
    expect(pinned).toContain("not a KV v2 answer");
    expect(pinned).not.toContain("v1-in-data-folder");
  });
});

// Vault before the fix seen in OpenBao's pathInternalUIMountRead checked a token's access to the
// mount at the request's namespace plus the mount's path inside its own namespace: a token of
// the root namespace asking sys/internal/ui/mounts/ns1/kv/… is refused (403), and asking with
// X-Vault-Namespace: ns1 about kv/… is answered, as `vault kv get -namespace=ns1` asks.
describe("VaultBackend and a Vault whose mount lookup refuses a child namespace named in the path", () => {
  const NAMESPACED: FakeVaultMount[] = [
    { path: "ns1/kv/", namespace: "ns1", type: "kv", version: "2" },
    { path: "ns1/ns2/kv/", namespace: "ns1/ns2", type: "kv", version: "2" },
    { path: "ns1/legacy/", namespace: "ns1", type: "kv", version: "1" },
  ];
  const legacyVault = (options: Parameters<typeof startFakeVault>[0] = {}) => vault({ mounts: NAMESPACED, mountLookupAccess: "request-namespace", ...options });
  const lookups = (fake: { requests: Array<{ path: string; headers: Record<string, unknown> }> }) =>
    fake.requests.filter(isMountLookup).map((r) => `${String(r.headers["x-vault-namespace"] ?? "-")} ${r.path.slice("/v1/sys/internal/ui/mounts/".length)}`);

  test("VaultBackend.read() asks again with the namespace in X-Vault-Namespace, and keeps the mount (every read asked twice and Vault never said)", async () => {
    const fake = await legacyVault();
    fake.putKv2("ns1/kv/app", { pw: "ns-pw-1" });
    fake.putKv2("ns1/kv/app", { pw: "ns-pw-2" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/kv/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:ns1/kv/data/app#pw"))).toBe("ns-pw-2");
    expect(await backend.read(ref("vault:ns1/kv/data/app?version=1#pw"))).toBe("ns-pw-1");
    // The third: the answer is ns1's, not one about kv/ where the runner is (a Vault without namespaces ignores the header).
    expect(lookups(fake)).toEqual(["- ns1/kv/data/app", "ns1 kv/data/app", "- kv/data/app"]);
  });

  test("VaultBackend.read(): a namespace nested in another, and one below the runner's own vaultNamespace", async () => {
    const fake = await legacyVault();
    fake.putKv2("ns1/ns2/kv/app", { pw: "nested-pw" });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/ns2/kv/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:ns1/ns2/kv/data/app?version=1#pw"))).toBe("nested-pw");
    expect(lookups(fake)).toEqual(["- ns1/ns2/kv/data/app", "ns1 ns2/kv/data/app", "ns1/ns2 kv/data/app", "- kv/data/app"]);

    const below = await legacyVault({ namespace: "team-a" });
    below.putKv2("ns1/kv/app", { pw: "team-a-child-pw" });
    const inTeam = new VaultBackend({ addr: below.url, token: below.token(["ns1/kv/"]), namespace: "team-a", timeoutMs: 2000 });
    expect(await inTeam.read(ref("vault:ns1/kv/data/app?version=1#pw"))).toBe("team-a-child-pw");
    expect(lookups(below)).toEqual(["team-a ns1/kv/data/app", "team-a/ns1 kv/data/app", "team-a kv/data/app"]);
  });

  test("VaultBackend.read() takes a KV v1 mount's folder called data in a child namespace as Vault says, whatever the value's shape (a KV v2-shaped value was read as KV v2)", async () => {
    const fake = await legacyVault();
    fake.putKv1("ns1/legacy/data/app", { data: { pw: "inner" }, metadata: { version: 1 } });
    const backend = new VaultBackend({ addr: fake.url, token: fake.token(["ns1/legacy/"]), timeoutMs: 2000 });
    expect(await backend.read(ref("vault:ns1/legacy/data/app#data"))).toBe('{"pw":"inner"}');
    expect(await codeOf(backend.read(ref("vault:ns1/legacy/data/app?version=1#data")))).toContain(`the mount "ns1/legacy/" is not KV v2`);
  });
});

test("VaultBackend.read() with a Vault without namespaces, which ignores X-Vault-Namespace: a mount answered there is not taken for the path's (team/kv/, KV v1, was read as the root's kv/, KV v2)", async () => {
  const fake = await vault({ withoutNamespaces: true, mounts: [{ path: "team/kv/", type: "kv", version: "1" }, { path: "kv/", type: "kv", version: "2" }] });
  fake.putKv1("team/kv/data/app", { pw: "team-v1-pw" });
  const backend = new VaultBackend({ addr: fake.url, token: fake.token(["team/kv/", "kv/"]), timeoutMs: 2000 });
  // A policy the lookup's access check does not see through (a proxy, an older Vault's `+` paths).
  fake.fail({ status: 403, body: { errors: ["permission denied"] } }, (r) => r.path === "/v1/sys/internal/ui/mounts/team/kv/data/app");
  expect(await backend.read(ref("vault:team/kv/data/app#pw"))).toBe("team-v1-pw");
});
