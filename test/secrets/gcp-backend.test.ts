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

  test("refetches a token with less than 60 s left before use", async () => {
    let clock = Date.now();
    const fake = await gcp({ now: () => clock });
    fake.addVersion("projects/p/secrets/s", "value-xyz");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000, now: () => clock });
    await backend.read(ref("gcp:projects/p/secrets/s"));
    clock += 3_560_000; // within a minute of the 3599 s expiry
    await backend.read(ref("gcp:projects/p/secrets/s"));
    expect(fake.exchanges).toBe(2);
    clock += 3_538_000; // the new token has 61 s left: still used
    await backend.read(ref("gcp:projects/p/secrets/s"));
    expect(fake.exchanges).toBe(2);
    clock += 3_000; // 58 s left: fetched again before use
    await backend.read(ref("gcp:projects/p/secrets/s"));
    expect(fake.exchanges).toBe(3);
  });

  test("a 401 (token revoked before its time) gets one new token and one retry", async () => {
    const fake = await gcp();
    fake.addVersion("projects/p/secrets/s", "value-after-401");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    await backend.read(ref("gcp:projects/p/secrets/s"));
    fake.expireTokens();
    expect(await backend.read(ref("gcp:projects/p/secrets/s"))).toBe("value-after-401");
    expect(fake.exchanges).toBe(2);
    // Refused again with the new token: permission denied, no third token, no loop.
    const unauthenticated = { status: 401, body: { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } } };
    fake.failAccess(unauthenticated, 2);
    expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/s")))).toMatch(/^secret_permission_denied: .*UNAUTHENTICATED/);
    expect(fake.exchanges).toBe(3);
  });

  test("GcpBackend.read() starts a fresh token fetch once every read waiting for a stalled one was cancelled (it joined the stalled fetch)", async () => {
    const fake = await gcp();
    fake.addVersion("projects/p/secrets/s", "after-stalled-token");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 1000 });
    // The first request, the token exchange, answers only after the deadline.
    fake.fail({ status: 200, body: {}, delayMs: 1500 });
    const job = new AbortController();
    const first = codeOf(backend.read(ref("gcp:projects/p/secrets/s"), job.signal));
    await Bun.sleep(50);
    job.abort();
    expect(await first).toStartWith("job_cancelled");
    // Nobody waits for the stalled fetch: it is aborted, and the next read does not join it.
    expect(await backend.read(ref("gcp:projects/p/secrets/s"))).toBe("after-stalled-token");
    expect(fake.exchanges).toBe(1);
  });

  test("GcpBackend.read() shares one token fetch between concurrent reads; one read's cancel leaves the others waiting", async () => {
    const fake = await gcp();
    fake.addVersion("projects/p/secrets/s", "shared-token-value");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    const job = new AbortController();
    const cancelledRead = codeOf(backend.read(ref("gcp:projects/p/secrets/s"), job.signal));
    const reads = [1, 2, 3].map(() => backend.read(ref("gcp:projects/p/secrets/s"), new AbortController().signal));
    job.abort();
    expect(await cancelledRead).toStartWith("job_cancelled");
    expect(await Promise.all(reads)).toEqual(["shared-token-value", "shared-token-value", "shared-token-value"]);
    expect(fake.exchanges).toBe(1);
  });

  test("GcpBackend.read() refuses a value that holds the runner's own service-account key or access token (secret_permission_denied naming the reference, never the value); they were handed to the job", async () => {
    const fake = await gcp();
    const key = (JSON.parse(fake.serviceAccountJson) as { private_key: string }).private_key;
    const body = key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const forms: Record<string, string> = {
      "key-file": fake.serviceAccountJson, // the key file itself, private_key JSON-escaped
      "key-file-pretty": JSON.stringify(JSON.parse(fake.serviceAccountJson), null, 2) + "\n",
      "key-pem": `${key}\n`,
      "key-rewrapped": `-----BEGIN PRIVATE KEY-----\r\n${body.match(/.{1,76}/g)!.join("\r\n")}\r\n-----END PRIVATE KEY-----`,
      "key-file-in-json": JSON.stringify({ credentials: fake.serviceAccountJson }), // escaped twice
      "key-file-base64": Buffer.from(fake.serviceAccountJson).toString("base64"),
      "key-file-php-escaped": fake.serviceAccountJson.replaceAll("/", "\\/"),
      // Not found before (handed to the job): hex as `xxd -p` writes it, URL-encoded in a form, base64 of base64.
      "key-file-xxd": Buffer.from(fake.serviceAccountJson).toString("hex").replace(/(.{60})/g, "$1\n"),
      "key-file-form": `credentials=${encodeURIComponent(fake.serviceAccountJson)}`,
      "key-file-base64-twice": Buffer.from(Buffer.from(fake.serviceAccountJson).toString("base64")).toString("base64"),
    };
    for (const [name, value] of Object.entries(forms)) fake.addVersion(`projects/p/secrets/${name}`, value);
    fake.addVersion("projects/p/secrets/ordinary", "an-ordinary-value");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    expect(await backend.read(ref("gcp:projects/p/secrets/ordinary"))).toBe("an-ordinary-value");
    const token = String(fake.requests.at(-1)!.headers.authorization).replace(/^Bearer /, "");
    fake.addVersion("projects/p/secrets/token", ` ${token}\n`);
    fake.addVersion("projects/p/secrets/token-in-json", JSON.stringify({ access_token: token }));
    for (const name of [...Object.keys(forms), "token", "token-in-json"]) {
      const error = await backend.read(ref(`gcp:projects/p/secrets/${name}`)).catch((e: unknown) => e as Error & { code: string });
      expect(error).toMatchObject({ code: "secret_permission_denied" });
      expect((error as Error).message).toContain(`"gcp:projects/p/secrets/${name}"`);
      expect((error as Error).message).toContain("own GCP credential");
      expect((error as Error).message).not.toContain(token);
      expect((error as Error).message).not.toContain(body.slice(0, 40));
    }
    expect(await backend.read(ref("gcp:projects/p/secrets/ordinary"))).toBe("an-ordinary-value");
    // The metadata server's token too.
    const viaMetadata = new GcpBackend({ endpoint: fake.url, metadataUrl: fake.url, timeoutMs: 2000 });
    expect(await viaMetadata.read(ref("gcp:projects/p/secrets/ordinary"))).toBe("an-ordinary-value");
    const metadataToken = String(fake.requests.at(-1)!.headers.authorization).replace(/^Bearer /, "");
    fake.addVersion("projects/p/secrets/metadata-token", metadataToken);
    expect(await codeOf(viaMetadata.read(ref("gcp:projects/p/secrets/metadata-token")))).toStartWith("secret_permission_denied");
  });

  test("a disabled or destroyed version is secret_not_found saying its state", async () => {
    const fake = await gcp();
    const name = "projects/p/secrets/rotated";
    fake.addVersion(name, "old-value-1");
    fake.addVersion(name, "new-value-2");
    fake.setState(name, 1, "DISABLED");
    fake.setState(name, 2, "DESTROYED");
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    const disabled = await codeOf(backend.read(ref(`gcp:${name}/versions/1`)));
    expect(disabled).toMatch(/^secret_not_found: .*gcp:projects\/p\/secrets\/rotated\/versions\/1.*DISABLED/);
    const latest = await codeOf(backend.read(ref(`gcp:${name}`)));
    expect(latest).toMatch(/^secret_not_found: .*DESTROYED/);
    expect(latest).toContain("latest");
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

  test("a payload that is not strict base64 or not UTF-8 is secret_corrupt (it was decoded leniently)", async () => {
    const fake = await gcp();
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    for (const data of ["!!!!%%%%", "c2VjcmV0LXZhbHVl!!garbage", "c2VjcmV0", "c2VjcmV0LX", Buffer.from([0xff, 0xfe, 0x41, 0x42]).toString("base64")]) {
      fake.failAccess({ status: 200, body: { name: "projects/1/secrets/s/versions/1", payload: { data } } });
      const result = await codeOf(backend.read(ref("gcp:projects/p/secrets/s")));
      if (data === "c2VjcmV0") expect(result).toBe("resolved");
      else expect(result).toStartWith(`secret_corrupt: Cannot resolve secret "gcp:projects/p/secrets/s"`);
    }
  });

  test("an answer nested past the JSON depth bound is secret_corrupt naming the reference (it overflowed the stack)", async () => {
    const fake = await gcp();
    const backend = new GcpBackend({ endpoint: fake.url, serviceAccountJson: fake.serviceAccountJson, timeoutMs: 2000 });
    const n = 400_000;
    for (const deep of [`{"payload":{"data":${"[".repeat(n)}${"]".repeat(n)}}}`, `{"payload":{"data":"c2VjcmV0"},"x":${"[".repeat(65)}${"]".repeat(65)}}`]) {
      fake.failAccess({ status: 200, body: deep });
      expect(await codeOf(backend.read(ref("gcp:projects/p/secrets/deep")))).toMatch(/^secret_corrupt: Cannot resolve secret "gcp:projects\/p\/secrets\/deep" .*nests deeper than 64 levels/);
    }
  });
});
