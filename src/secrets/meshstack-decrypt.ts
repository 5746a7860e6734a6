// meshStack's encrypted-input scheme, byte for byte: RSA-OAEP (SHA-1) wraps a 16-byte AES key,
// then a uint32 big-endian IV length, the IV, and AES-128-GCM ciphertext with its 16-byte tag.
// The meshStack adapter calls this for sensitive STRING, CODE and FILE inputs and for the
// implementation's own secrets; a failure names the input and says the key pair does not match.

import { constants, createDecipheriv, createPrivateKey, privateDecrypt, type KeyObject } from "node:crypto";
import { EdgeError } from "../errors.ts";

const AES_KEY_BYTES = 16;
const TAG_BYTES = 16;
/** GCM IVs are 12 bytes in meshStack's scheme; allow up to 64 so an odd but valid IV still works. */
const MAX_IV_BYTES = 64;
/** A sensitive input is bounded: 64 MiB of base64 is far beyond any FILE input meshStack accepts. */
const MAX_VALUE_CHARS = 64 * 1024 * 1024;

export type MeshstackInputType = "STRING" | "CODE" | "FILE";

/** The input types meshStack encrypts and the runner decrypts; others are passed through as they are. */
export const MESHSTACK_DECRYPTED_TYPES: ReadonlySet<string> = new Set<MeshstackInputType>(["STRING", "CODE", "FILE"]);

/**
 * Loads the runner's private key for meshStack from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`) or
 * PKCS#1 (`BEGIN RSA PRIVATE KEY`). Throws `config_invalid` for anything else.
 */
export function loadMeshstackPrivateKey(pem: string, label = "the meshStack private key"): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    // The parser's message can quote the input; say only what was wrong.
    throw new EdgeError("config_invalid", `Cannot load ${label}: not a PEM RSA private key (PKCS#8 or PKCS#1)`);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new EdgeError("config_invalid", `Cannot load ${label}: key type "${key.asymmetricKeyType ?? "unknown"}" is not RSA`);
  }
  return key;
}

/** Decrypts one value to its plaintext bytes. `name` (the input key) appears in errors; the value never does. */
export function decryptMeshstackBytes(privateKey: KeyObject, value: string, name: string): Buffer {
  const fail = (why: string): EdgeError =>
    new EdgeError("secret_undecryptable", `Cannot decrypt meshStack input "${name}": ${why}`);
  if (typeof value !== "string" || value.length === 0) throw fail("the value is empty or not a string");
  if (value.length > MAX_VALUE_CHARS) throw fail(`the value is longer than ${MAX_VALUE_CHARS} characters`);
  const trimmed = value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) throw fail("the value is not standard base64");
  const bytes = Buffer.from(trimmed, "base64");
  const modulusBytes = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  if (modulusBytes === 0) throw fail("the runner's key has no RSA modulus");
  if (bytes.length < modulusBytes + 4 + TAG_BYTES) {
    throw fail(`the value is ${bytes.length} bytes, too short for a ${modulusBytes * 8}-bit key; the runner's key pair does not match the key meshStack encrypted to`);
  }
  let aesKey: Buffer;
  try {
    aesKey = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      bytes.subarray(0, modulusBytes),
    );
  } catch {
    throw fail("the runner's key pair does not match the key meshStack encrypted to (RSA-OAEP unwrap failed)");
  }
  if (aesKey.length !== AES_KEY_BYTES) throw fail(`the wrapped key is ${aesKey.length} bytes, not ${AES_KEY_BYTES}`);
  const ivLength = bytes.readUInt32BE(modulusBytes);
  if (ivLength === 0 || ivLength > MAX_IV_BYTES) throw fail(`the IV length ${ivLength} is out of range (1..${MAX_IV_BYTES})`);
  const ivStart = modulusBytes + 4;
  const bodyStart = ivStart + ivLength;
  if (bytes.length < bodyStart + TAG_BYTES) throw fail("the value ends before the GCM tag");
  const iv = bytes.subarray(ivStart, bodyStart);
  const ciphertext = bytes.subarray(bodyStart, bytes.length - TAG_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv("aes-128-gcm", aesKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw fail("the AES-GCM tag does not verify (the value was altered or the key pair does not match)");
  } finally {
    aesKey.fill(0);
  }
}

export interface MeshstackEncryptedInput {
  key: string;
  type: string;
  value: string;
}

/**
 * Decrypts a sensitive input to the value a job sees: text for STRING and CODE, a
 * `data:<mime>;base64,…` URL for FILE (kept as is when the plaintext already is a data URL).
 */
export function decryptMeshstackInput(privateKey: KeyObject, input: MeshstackEncryptedInput): string {
  if (!MESHSTACK_DECRYPTED_TYPES.has(input.type)) {
    throw new EdgeError("input_invalid", `Cannot decrypt meshStack input "${input.key}": type "${String(input.type).slice(0, 32)}" is not encrypted by meshStack (only STRING, CODE and FILE are)`);
  }
  const plain = decryptMeshstackBytes(privateKey, input.value, input.key);
  if (input.type !== "FILE") return plain.toString("utf8");
  const text = plain.toString("utf8");
  if (/^data:[^,]*,/.test(text)) return text;
  return `data:application/octet-stream;base64,${plain.toString("base64")}`;
}
