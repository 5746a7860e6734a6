// GcpBackend against the fake Google APIs in test/fakes/fake-gcp.ts (no real Secret Manager here;
// see docs/testing.md).

import { afterEach, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { crc32c } from "../../src/secrets/references/crc32c.ts";
import { GcpBackend } from "../../src/secrets/references/gcp-backend.ts";
import { parseReference } from "../../src/secrets/references/reference.ts";
import { codeOf } from "../fakes/error-code.ts";
import { startFakeGcp } from "../fakes/fake-gcp.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function gcp(options: Parameters<typeof startFakeGcp>[0] = {}) {
  const fake = await startFakeGcp(options);
  closers.push(fake.close);
  return fake;
}
const ref = (raw: string) => parseReference(raw) as Extract<ReturnType<typeof parseReference>, { backend: "gcp" }>;

describe("GcpBackend", () => {
  test("crc32c() matches the Castagnoli check value", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  test("exchanges a signed service-account JWT for a token, caches it, and reads versions", async () => {
    const fake = await gcp();
    fake.addVersion("projects/test-project/secrets/db-password", "gcp-pw-v1");
    fake.addVersion("projects/test-project/secrets/db-password", "gcp-pw-v2");
    const registered: string[] = [];
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000, registerSecret: (v) => registered.push(v) });
    expect(await backend.read(ref("gcp:projects/test-project/secrets/db-password"))).toBe("gcp-pw-v2");
    expect(await backend.read(ref("gcp:projects/test-project/secrets/db-password/versions/1"))).toBe("gcp-pw-v1");
    expect(await backend.read(ref("gcp:projects/test-project/secrets/db-password/versions/latest"))).toBe("gcp-pw-v2");
    expect(fake.exchanges).toBe(1);
    expect(registered.some((v) => v.startsWith("ya29."))).toBe(true);
    expect(registered.some((v) => v.includes("PRIVATE KEY"))).toBe(true);
  });

  test("refreshes the token shortly before it expires, and after a 401", async () => {
    let clock = Date.now();
    const fake = await gcp({ now: () => clock });
    fake.addVersion("projects/p/secrets/s", "value-xyz");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000, now: () => clock });
    await backend.read(ref("gcp:projects/p/secrets/s"));
    clock += 3_560_000; // within a minute of the 3599 s expiry
    await backend.read(ref("gcp:projects/p/secrets/s"));
    expect(fake.exchanges).toBe(2);
    fake.expireTokens();
    expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/s")))).toStartWith("secret_permission_denied");
    expect(await backend.read(ref("gcp:projects/p/secrets/s"))).toBe("value-xyz");
    expect(fake.exchanges).toBe(3);
  });

  test("a JWT signed with another key is refused by the token endpoint", async () => {
    const fake = await gcp();
    const other = JSON.parse(fake.serviceAccountJson) as Record<string, unknown>;
    other.private_key = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: JSON.stringify(other), timeoutMs: 2000 });
    const message = await codeOf(backend.read(ref("gcp:projects/p/secrets/s")));
    expect(message).toStartWith("secret_permission_denied");
    expect(message).toContain("invalid_grant");
  });

  test("uses the metadata server's token without a key file", async () => {
    const fake = await gcp();
    fake.addVersion("projects/p/secrets/s", "from-metadata-1");
    const backend = new GcpBackend({ endpoint: fake.url, metadataUrl: fake.url, timeoutMs: 2000 });
    expect(await backend.read(ref("gcp:projects/p/secrets/s"))).toBe("from-metadata-1");
    expect(fake.requests.some((r) => r.headers["metadata-flavor"] === "Google")).toBe(true);
  });

  test("404, 403, a CRC32C mismatch, 5xx and timeouts each have their code", async () => {
    const fake = await gcp();
    fake.addVersion("projects/p/secrets/s", "crc-checked-1");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 300 });
    const missing = await codeOf(backend.read(ref("gcp:projects/p/secrets/nope")));
    expect(missing).toStartWith("secret_not_found");
    expect(missing).toContain("gcp:projects/p/secrets/nope");
    expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/forbidden")))).toMatch(/^secret_permission_denied: .*PERMISSION_DENIED.*secretAccessor/);
    fake.corrupt(true);
    const corrupt = await codeOf(backend.read(ref("gcp:projects/p/secrets/s")));
    expect(corrupt).toStartWith("secret_corrupt");
    expect(corrupt).not.toContain("crc-checked-1");
    fake.corrupt(false);
    fake.fail({ status: 503, body: { error: { code: 503, message: "The service is currently unavailable.", status: "UNAVAILABLE" } } });
    expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/s")))).toStartWith("secret_backend_unavailable");
    fake.fail({ status: 200, body: {}, delayMs: 2000 });
    expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/s")))).toMatch(/^secret_backend_unavailable: .*within 300 ms/);
    expect(await backend.read(ref("gcp:projects/p/secrets/s"))).toBe("crc-checked-1");
  });
});
