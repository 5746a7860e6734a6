// The runner's own key pair (RSA-4096, PKCS#8 PEM; secret inputs are encrypted to it), and the
// check every reader of a private key file makes: refuse a file other users can read.

import { secretFileRefusal } from "../util/secret-file-rule.ts";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readTextFileBounded } from "../util/read-file-bounded.ts";

/** A new RSA pair as PEM (PKCS#8, SPKI). node:crypto is imported here, not by a runner's start-up. */
export async function generateRsaPem(modulusLength: number): Promise<{ privateKey: string; publicKey: string }> {
  const { generateKeyPair } = await import("node:crypto");
  return new Promise((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } }, (error, publicKey, privateKey) =>
      error === null ? resolve({ privateKey, publicKey }) : reject(error),
    );
  });
}

export interface RunnerKeyFiles {
  privateKey: string;
  publicKey: string;
}

export function runnerKeyFiles(dir: string): RunnerKeyFiles {
  return { privateKey: join(dir, "runner-key.pem"), publicKey: join(dir, "runner-key.pub.pem") };
}

export interface EnsureRunnerKeyOptions {
  outDir: string;
  /** Replace an existing pair. */
  force?: boolean;
  /** RSA modulus; 4096 unless a test needs speed. */
  modulusLength?: number;
}

export interface RunnerKeyResult {
  files: RunnerKeyFiles;
  publicPem: string;
  /** False when an existing pair was left alone. */
  created: boolean;
}

/** Creates the pair unless one exists (then checks it and returns its public key). */
export async function ensureRunnerKey(options: EnsureRunnerKeyOptions): Promise<RunnerKeyResult> {
  const files = runnerKeyFiles(options.outDir);
  if (options.force !== true && (await fileExists(files.privateKey))) {
    await checkPrivateKeyFile(files.privateKey);
    if (!(await fileExists(files.publicKey))) {
      throw new EdgeError("config_invalid", `Cannot use runner key "${files.privateKey}": public key "${files.publicKey}" is missing (use --force to make a new pair)`);
    }
    return { files, publicPem: await readPem(files.publicKey, "public key"), created: false };
  }
  const { privateKey, publicKey } = await generateRsaPem(options.modulusLength ?? 4096);
  await writeFileAtomic(files.privateKey, privateKey, { mode: 0o600, dirMode: 0o700 });
  await writeFileAtomic(files.publicKey, publicKey, { mode: 0o644, dirMode: 0o700 });
  return { files, publicPem: publicKey, created: true };
}

/**
 * Throws a `config_invalid` EdgeError when `path` is not a regular file or when its group or
 * others may read or write it. POSIX modes do not exist on Windows, so the check passes there.
 */
export async function checkPrivateKeyFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new EdgeError("config_invalid", `Cannot read private key "${path}": ${errorMessage(error)}`);
  }
  const refusal = secretFileRefusal(path, info);
  if (refusal !== undefined) throw new EdgeError("config_invalid", `Refusing private key "${path}": ${refusal.reason}${refusal.fix === undefined ? "" : `; run ${refusal.fix}`}`);
}

/** Checks the file mode, then returns the PEM text. */
export async function readPrivateKeyFile(path: string): Promise<string> {
  await checkPrivateKeyFile(path);
  return readPem(path, "private key");
}

/** A key file's PEM text; one over the cap (or unreadable) is config_invalid naming it. */
async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readTextFileBounded(path, MAX_CREDENTIAL_FILE_BYTES);
  } catch (error) {
    throw new EdgeError("config_invalid", `Cannot read ${what} "${path}": ${errorMessage(error)}`);
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
