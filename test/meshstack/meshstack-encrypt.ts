// The test's own implementation of meshStack's input encryption, written from the protocol
// description with node:crypto calls (not the code under test): RSA-OAEP-SHA1(16-byte AES key)
// || uint32 BE IV length || IV || AES-128-GCM(ciphertext || tag).

import { constants, createCipheriv, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";

export function meshstackEncrypt(publicKey: KeyObject | string, plain: string | Buffer): string {
  const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
  const aesKey = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-128-gcm", aesKey, iv);
  const body = Buffer.concat([cipher.update(typeof plain === "string" ? Buffer.from(plain) : plain), cipher.final(), cipher.getAuthTag()]);
  const wrapped = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, aesKey);
  const ivLength = Buffer.alloc(4);
  ivLength.writeUInt32BE(iv.length);
  return Buffer.concat([wrapped, ivLength, iv, body]).toString("base64");
}
