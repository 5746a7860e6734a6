// Ed25519 plugin signing keys: generate a pair (JWK + PEM, private files 0600) with a key id,
// and load a private JWK for `plugin sign`. The key id defaults to the RFC 7638 thumbprint.

import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { jsonSyntaxProblem } from "../util/json-syntax.ts";
import { checkPrivateKeyFile } from "../secrets/runner-keys.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readTextFileBounded } from "../util/read-file-bounded.ts";

const KID = /^[A-Za-z0-9._-]{1,128}$/;

export interface SigningKeyFiles {
  privateJwk: string;
  publicJwk: string;
  privatePem: string;
  publicPem: string;
}

export interface GeneratedSigningKey {
  kid: string;
  publicJwk: JWK;
  publicPem: string;
  files: SigningKeyFiles;
}

export interface GenerateSigningKeyOptions {
  outDir: string;
  /** Key id; default the JWK thumbprint (RFC 7638, SHA-256). */
  kid?: string;
  /** Overwrite files of the same key id. */
  force?: boolean;
}

export function signingKeyFiles(outDir: string, kid: string): SigningKeyFiles {
  const base = join(outDir, `signing-${kid}`);
  return { privateJwk: `${base}.key.jwk`, publicJwk: `${base}.pub.jwk`, privatePem: `${base}.key.pem`, publicPem: `${base}.pub.pem` };
}

export async function generateSigningKey(options: GenerateSigningKeyOptions): Promise<GeneratedSigningKey> {
  if (options.kid !== undefined && !KID.test(options.kid)) {
    throw new RangeError(`Invalid key id "${options.kid}": expected 1 to 128 letters, digits, ".", "_" or "-"`);
  }
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const bare = await exportJWK(publicKey);
  const kid = options.kid ?? (await calculateJwkThumbprint(bare, "sha256"));
  const publicJwk: JWK = { ...bare, kid, alg: "EdDSA", use: "sig" };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "EdDSA", use: "sig" };
  const files = signingKeyFiles(options.outDir, kid);
  if (options.force !== true) {
    for (const path of Object.values(files)) {
      if (await exists(path)) throw new EdgeError("conflict", `Cannot create signing key "${kid}": "${path}" exists (use --force to replace it)`);
    }
  }
  const publicPem = await exportSPKI(publicKey);
  const dir = { dirMode: 0o700 };
  await writeFileAtomic(files.privateJwk, JSON.stringify(privateJwk, null, 2) + "\n", { ...dir, mode: 0o600 });
  await writeFileAtomic(files.privatePem, await exportPKCS8(privateKey), { ...dir, mode: 0o600 });
  await writeFileAtomic(files.publicJwk, JSON.stringify(publicJwk, null, 2) + "\n", dir);
  await writeFileAtomic(files.publicPem, publicPem, dir);
  return { kid, publicJwk, publicPem, files };
}

export interface SigningKey {
  kid: string;
  key: CryptoKey;
}

/** Loads a private Ed25519 JWK (as written by `keygen --signing`); refuses a readable-by-others file. */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  await checkPrivateKeyFile(path);
  let jwk: JWK;
  let text = "";
  try {
    text = await readTextFileBounded(path, MAX_CREDENTIAL_FILE_BYTES);
    jwk = JSON.parse(text) as JWK;
  } catch (error) {
    // A parser's message quotes the text, here the private key: say only where it broke.
    throw new EdgeError("config_invalid", `Cannot read signing key "${path}": ${error instanceof SyntaxError ? jsonSyntaxProblem(error, text) : errorMessage(error)}`);
  }
  if (jwk === null || typeof jwk !== "object" || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string") {
    throw new EdgeError("config_invalid", `Cannot use signing key "${path}": expected a private Ed25519 JWK (kty "OKP", crv "Ed25519", with "d")`);
  }
  const kid = jwk.kid ?? (await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x ?? "" }, "sha256"));
  if (!KID.test(kid)) throw new EdgeError("config_invalid", `Cannot use signing key "${path}": invalid key id "${kid}"`);
  const key = await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA");
  return { kid, key: key as CryptoKey };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
