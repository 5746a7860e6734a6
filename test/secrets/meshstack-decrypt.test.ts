// Test vectors come from an independent encryptor written here with node:crypto calls (not the
// code under test), laid out as meshStack's protocol describes: RSA-OAEP-SHA1(key) || u32 IV
// length || IV || AES-128-GCM(ciphertext || tag).

import { describe, expect, test } from "bun:test";
import { constants, createCipheriv, generateKeyPairSync, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";
import { decryptMeshstackBytes, decryptMeshstackInput, loadMeshstackPrivateKey } from "../../src/secrets/meshstack-decrypt.ts";

function meshstackEncrypt(publicKey: KeyObject, plain: Buffer): string {
  const aesKey = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-128-gcm", aesKey, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  const wrapped = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, aesKey);
  const ivLength = Buffer.alloc(4);
  ivLength.writeUInt32BE(iv.length);
  return Buffer.concat([wrapped, ivLength, iv, body]).toString("base64");
}

const pairs = [2048, 4096].map((bits) => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: bits });
  return {
    bits,
    publicKey,
    pkcs8: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    pkcs1: privateKey.export({ type: "pkcs1", format: "pem" }) as string,
  };
});

describe("decryptMeshstackInput()", () => {
  for (const pair of pairs) {
    for (const format of ["pkcs8", "pkcs1"] as const) {
      test(`decrypts STRING, CODE and FILE with an RSA-${pair.bits} ${format.toUpperCase()} key`, () => {
        const pem = pair[format];
        expect(pem).toContain(format === "pkcs8" ? "BEGIN PRIVATE KEY" : "BEGIN RSA PRIVATE KEY");
        const key = loadMeshstackPrivateKey(pem);
        const text = "s3cr3t-välue ✓ with unicode";
        expect(decryptMeshstackInput(key, { key: "password", type: "STRING", value: meshstackEncrypt(pair.publicKey, Buffer.from(text)) })).toBe(text);
        const code = "resource \"x\" {\n  y = 1\n}\n";
        expect(decryptMeshstackInput(key, { key: "tf", type: "CODE", value: meshstackEncrypt(pair.publicKey, Buffer.from(code)) })).toBe(code);
        const file = randomBytes(3000);
        const url = decryptMeshstackInput(key, { key: "cert", type: "FILE", value: meshstackEncrypt(pair.publicKey, file) });
        expect(url.startsWith("data:application/octet-stream;base64,")).toBe(true);
        expect(Buffer.from(url.slice(url.indexOf(",") + 1), "base64").equals(file)).toBe(true);
        const asUrl = "data:text/plain;base64,aGVsbG8=";
        expect(decryptMeshstackInput(key, { key: "f2", type: "FILE", value: meshstackEncrypt(pair.publicKey, Buffer.from(asUrl)) })).toBe(asUrl);
      });
    }
  }

  test("the wrapped key is one modulus long (512 bytes for RSA-4096)", () => {
    const pair = pairs[1]!;
    const bytes = Buffer.from(meshstackEncrypt(pair.publicKey, Buffer.from("x")), "base64");
    expect(bytes.readUInt32BE(512)).toBe(12);
    expect(decryptMeshstackBytes(loadMeshstackPrivateKey(pair.pkcs8), bytes.toString("base64"), "x").toString()).toBe("x");
  });

  test("a value encrypted to another key fails with secret_undecryptable naming the input, not the value", () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const value = meshstackEncrypt(other.publicKey, Buffer.from("canary-value-123"));
    const key = loadMeshstackPrivateKey(pairs[0]!.pkcs8);
    let caught: unknown;
    try {
      decryptMeshstackInput(key, { key: "dbPassword", type: "STRING", value });
    } catch (error) {
      caught = error;
    }
    expect((caught as { code: string }).code).toBe("secret_undecryptable");
    const message = (caught as Error).message;
    expect(message).toContain('"dbPassword"');
    expect(message).toContain("key pair does not match");
    expect(message).not.toContain(value.slice(0, 20));
    expect(message).not.toContain("canary-value-123");
  });

  test("a changed byte in the ciphertext fails the GCM tag", () => {
    const pair = pairs[0]!;
    const bytes = Buffer.from(meshstackEncrypt(pair.publicKey, Buffer.from("hello world")), "base64");
    bytes[bytes.length - 20]! ^= 1;
    expect(() => decryptMeshstackBytes(loadMeshstackPrivateKey(pair.pkcs1), bytes.toString("base64"), "x")).toThrow(/tag does not verify/);
  });

  test("bad shapes are refused with a reason", () => {
    const key = loadMeshstackPrivateKey(pairs[0]!.pkcs8);
    expect(() => decryptMeshstackBytes(key, "", "a")).toThrow(/empty/);
    expect(() => decryptMeshstackBytes(key, "not base64!!", "a")).toThrow(/not standard base64/);
    expect(() => decryptMeshstackBytes(key, "AAAA", "a")).toThrow(/too short/);
    expect(() => decryptMeshstackInput(key, { key: "n", type: "INTEGER", value: "AAAA" })).toThrow(/only STRING, CODE and FILE/);
    expect(() => loadMeshstackPrivateKey("-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----")).toThrow(/not a PEM RSA private key/);
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    expect(() => loadMeshstackPrivateKey(ec)).toThrow(/is not RSA/);
  });
});
