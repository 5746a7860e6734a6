import { describe, expect, test } from "bun:test";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint } from "jose";
import { decryptInputSecrets } from "../../src/secrets/input-secrets.ts";
import { decryptJwe, encryptToRunner } from "../../src/secrets/jwe.ts";
import { RunnerKeyRing, retireRunnerKey, rotateRunnerKey } from "../../src/secrets/key-ring.ts";
import { privateKeyOf } from "../../src/secrets/ring-private-key.ts";
import { RedactionScope } from "../../src/secrets/redaction/redaction-scope.ts";

const tempDir = () => mkdtemp(join(tmpdir(), "keyring-"));
async function caught(promise: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error("expected a rejection");
}

describe("RunnerKeyRing", () => {
  test("rotate keeps the old key for decryption; retire removes it; the kid is the RFC 7638 thumbprint", async () => {
    const dir = await tempDir();
    expect((await RunnerKeyRing.load(dir)).keys).toHaveLength(0);
    const first = await rotateRunnerKey(dir, { modulusLength: 2048 });
    const ring1 = await RunnerKeyRing.load(dir);
    expect(ring1.current?.kid).toBe(first.current);
    const jwk = createPublicKey(privateKeyOf(ring1.current!)).export({ format: "jwk" });
    expect(await calculateJwkThumbprint({ kty: "RSA", e: jwk.e!, n: jwk.n! })).toBe(first.current);
    const oldJwe = await encryptToRunner("old-secret-value", ring1.publicJwks()[0]!);

    const second = await rotateRunnerKey(dir, { modulusLength: 2048 });
    expect(second.previous).toBe(first.current);
    const ring2 = await RunnerKeyRing.load(dir);
    expect(ring2.keys.map((k) => [k.kid, k.current])).toEqual([[second.current, true], [first.current, false]]);
    expect(await decryptJwe(ring2, oldJwe, "x")).toBe("old-secret-value");

    await expect(retireRunnerKey(dir, second.current)).rejects.toThrow(/it is the current key/);
    await expect(retireRunnerKey(dir, "nope")).rejects.toThrow(/no such key/);
    await retireRunnerKey(dir, first.current);
    const ring3 = await RunnerKeyRing.load(dir);
    expect(ring3.keys).toHaveLength(1);
    const error = await caught(decryptJwe(ring3, oldJwe, `the secret at input path "db.password"`));
    expect(error.code).toBe("secret_undecryptable");
    expect(error.message).toContain('"db.password"');
    expect(error.message).toContain(`"${first.current}"`);
    expect(error.message).toContain("holds no matching key");
    expect(error.message).not.toContain(oldJwe.slice(0, 40));
    expect((await readdir(dir)).sort()).toEqual(["runner-key.pem", "runner-key.pub.pem"]);
  });

  test("refuses a key file other users can read", async () => {
    const dir = await tempDir();
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(join(dir, "runner-key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
    await chmod(join(dir, "runner-key.pem"), 0o644);
    await expect(RunnerKeyRing.load(dir)).rejects.toThrow(/lets other users read it/);
  });
});

describe("decryptInputSecrets()", () => {
  test("replaces markers at any depth, registers plaintexts, leaves the rest", async () => {
    const dir = await tempDir();
    await rotateRunnerKey(dir, { modulusLength: 2048 });
    const ring = await RunnerKeyRing.load(dir);
    const key = ring.publicJwks()[0]!;
    const input = {
      plain: "x",
      db: { password: { $secret: await encryptToRunner("pw-value-1", key) } },
      list: [1, { $secret: [await encryptToRunner("other-runner", { ...key, kid: "someone-else" }).catch(() => "bad"), await encryptToRunner("pw-value-2", key)] }],
    };
    const scope = new RedactionScope();
    const out = await decryptInputSecrets(input, ring, scope);
    expect(out).toEqual({ plain: "x", db: { password: "pw-value-1" }, list: [1, "pw-value-2"] });
    expect(scope.text("pw-value-1 pw-value-2")).toBe("[REDACTED] [REDACTED]");
  });

  test("a value for a key the runner lacks fails naming the path", async () => {
    const dir = await tempDir();
    await rotateRunnerKey(dir, { modulusLength: 2048 });
    const other = await tempDir();
    await rotateRunnerKey(other, { modulusLength: 2048 });
    const otherRing = await RunnerKeyRing.load(other);
    const jwe = await encryptToRunner("nope-value", otherRing.publicJwks()[0]!);
    const error = await caught(decryptInputSecrets({ a: [{ b: { $secret: jwe } }] }, await RunnerKeyRing.load(dir), new RedactionScope()));
    expect(error.code).toBe("secret_undecryptable");
    expect(error.message).toContain('input path "a[0].b"');
    expect(error.message).toContain(otherRing.current!.kid);
  });

  test("a tampered JWE is refused", async () => {
    const dir = await tempDir();
    await rotateRunnerKey(dir, { modulusLength: 2048 });
    const ring = await RunnerKeyRing.load(dir);
    const jwe = await encryptToRunner("value-123", ring.publicJwks()[0]!);
    const parts = jwe.split(".");
    parts[3] = parts[3]!.startsWith("A") ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    await expect(decryptJwe(ring, parts.join("."), "x")).rejects.toThrow(/does not verify/);
    await expect(decryptJwe(ring, "not-a-jwe", "x")).rejects.toThrow(/not a compact JWE/);
  });
});
