import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { TrustedKeyRing } from "../../src/plugin-bundles/key-ring.ts";
import { checkPrivateKeyFile, ensureRunnerKey } from "../../src/secrets/runner-keys.ts";
import { generateSigningKey, loadSigningKey } from "../../src/plugin-bundles/signing-keys.ts";
import { codeOf, errorOf, makeKey, tempDir } from "./fixtures.ts";

const mode = async (path: string) => (await stat(path)).mode & 0o777;

test("ensureRunnerKey() writes a 0600 private key, keeps an existing pair, and replaces it with force", async () => {
  const dir = `${await tempDir()}/keys`;
  const first = await ensureRunnerKey({ outDir: dir, modulusLength: 2048 });
  expect(first.created).toBe(true);
  expect(await mode(first.files.privateKey)).toBe(0o600);
  expect(await mode(dir)).toBe(0o700);
  expect(await readFile(first.files.privateKey, "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----");
  const again = await ensureRunnerKey({ outDir: dir, modulusLength: 2048 });
  expect(again).toEqual({ ...first, created: false });
  const forced = await ensureRunnerKey({ outDir: dir, modulusLength: 2048, force: true });
  expect(forced.publicPem).not.toBe(first.publicPem);
});

test("checkPrivateKeyFile() refuses a group- or world-readable key and names the fix", async () => {
  const dir = await tempDir();
  const { files } = await ensureRunnerKey({ outDir: dir, modulusLength: 2048 });
  await checkPrivateKeyFile(files.privateKey);
  await chmod(files.privateKey, 0o644);
  const error = await errorOf(async () => checkPrivateKeyFile(files.privateKey));
  expect(error.code).toBe("config_invalid");
  expect(error.message).toBe(`Refusing private key "${files.privateKey}": mode 0644 lets other users read it; run chmod 600 "${files.privateKey}"`);
  expect(await codeOf(() => ensureRunnerKey({ outDir: dir, modulusLength: 2048 }))).toBe("config_invalid");
  expect(await codeOf(() => checkPrivateKeyFile(`${dir}/missing.pem`))).toBe("config_invalid");
});

test("generateSigningKey() writes JWK and PEM with a thumbprint key id; private files are 0600", async () => {
  const dir = await tempDir();
  const key = await generateSigningKey({ outDir: dir });
  expect(key.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(key.publicJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: key.kid, alg: "EdDSA" });
  expect(await mode(key.files.privateJwk)).toBe(0o600);
  expect(await mode(key.files.privatePem)).toBe(0o600);
  expect(JSON.parse(await readFile(key.files.publicJwk, "utf8")).d).toBeUndefined();
  expect((await loadSigningKey(key.files.privateJwk)).kid).toBe(key.kid);
  const named = await generateSigningKey({ outDir: dir, kid: "platform-2026" });
  expect(named.kid).toBe("platform-2026");
  expect(await codeOf(() => generateSigningKey({ outDir: dir, kid: "platform-2026" }))).toBe("conflict");
  await expect(generateSigningKey({ outDir: dir, kid: "../x" })).rejects.toThrow(RangeError);
});

test("TrustedKeyRing.load() reads JWK, JWKS and PEM files, one key in two files once, and refuses private keys", async () => {
  const dir = await tempDir();
  const a = await generateSigningKey({ outDir: `${dir}/gen`, kid: "a" });
  const b = await makeKey("b");
  await writeFile(`${dir}/a.jwk`, JSON.stringify(a.publicJwk));
  await writeFile(`${dir}/a.pem`, a.publicPem);
  await writeFile(`${dir}/set.jwks`, JSON.stringify({ keys: [{ ...b.publicJwk, exp: 2_000_000_000 }] }));
  await writeFile(`${dir}/README.txt`, "not a key");
  const keyRing = await TrustedKeyRing.load(dir);
  // The PEM has no kid, so it is known by its thumbprint as well as by "a".
  expect(keyRing.kids).toContain("a");
  expect(keyRing.kids).toContain("b");
  expect(keyRing.get("b")?.expiresAt).toBe(2_000_000_000_000);

  await writeFile(`${dir}/oops.jwk`, await readFile(a.files.privateJwk, "utf8"));
  expect(await codeOf(() => keyRing.reload())).toBe("config_invalid");
  expect(keyRing.kids).toContain("a");
});

test("TrustedKeyRing.fromJwks() refuses two different keys under one id", async () => {
  const one = await makeKey("same"), two = await makeKey("same");
  expect(await codeOf(() => TrustedKeyRing.fromJwks([one.publicJwk, two.publicJwk]))).toBe("config_invalid");
  expect((await TrustedKeyRing.fromJwks([one.publicJwk, one.publicJwk])).size).toBe(1);
});

test("TrustedKeyRing.load() refuses a FIFO named like a key file at once instead of blocking every verification", async () => {
  const dir = await tempDir();
  execFileSync("mkfifo", [`${dir}/stuck.jwk`]);
  const outcome = await Promise.race([
    TrustedKeyRing.load(dir).then(() => "loaded", (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`),
    new Promise((r) => setTimeout(r, 3000)).then(() => "still blocked after 3 s"),
  ]);
  expect(outcome).toContain("config_invalid");
  expect(outcome).toContain("FIFO");
}, 10_000);
