// The runner's trusted plugin signing keys, by key id. Several keys may be trusted at once so a
// signing key can rotate without downtime; a key may carry `exp` (seconds since the epoch).
// Loaded from a directory of public JWK / JWKS / PEM files or from one JWKS file; reload() re-reads.

import { calculateJwkThumbprint, exportJWK, importJWK, importSPKI, type CryptoKey, type JWK } from "jose";
import { readdirSync, statSync, type Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { jsonPreview } from "../util/json-bounds.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readTextFileBounded } from "../util/read-file-bounded.ts";

export interface TrustedKey {
  kid: string;
  key: CryptoKey;
  /** Epoch ms after which signatures by this key are refused. */
  expiresAt?: number;
  /** Where the key came from, for messages. */
  source: string;
  /** The public key (JWK "x"), to tell one key in two files from two keys under one id. */
  x: string;
}

const KEY_FILE = /\.(jwk|json|jwks|pem)$/;

export class TrustedKeyRing {
  #keys: Map<string, TrustedKey>;
  readonly #path: string | undefined;

  private constructor(keys: Map<string, TrustedKey>, path: string | undefined) {
    this.#keys = keys;
    this.#path = path;
  }

  /** Loads every public key file of a directory, or one JWKS/JWK/PEM file. */
  static async load(path: string): Promise<TrustedKeyRing> {
    return new TrustedKeyRing(await readKeys(path), path);
  }

  /** A ring from JWKs held in memory (tests, embedded configuration). */
  static async fromJwks(keys: readonly JWK[], source = "memory"): Promise<TrustedKeyRing> {
    const map = new Map<string, TrustedKey>();
    for (const jwk of keys) add(map, await fromJwk(jwk, source));
    return new TrustedKeyRing(map, undefined);
  }

  /** Re-reads the path the ring was loaded from; on error the ring is left as it was and the error thrown. */
  async reload(): Promise<void> {
    if (this.#path !== undefined) this.#keys = await readKeys(this.#path);
  }

  get(kid: string): TrustedKey | undefined {
    return this.#keys.get(kid);
  }

  get kids(): string[] {
    return [...this.#keys.keys()].sort();
  }

  get size(): number {
    return this.#keys.size;
  }
}

async function readKeys(path: string): Promise<Map<string, TrustedKey>> {
  const map = new Map<string, TrustedKey>();
  let isDir: boolean;
  try {
    const info = await stat(path);
    isDir = info.isDirectory();
    refuseWritableByOthers(path, info.mode, isDir ? "directory" : "file");
  } catch (error) {
    if (error instanceof EdgeError) throw error;
    throw new EdgeError("config_invalid", `Cannot load trusted keys "${path}": ${errorMessage(error)}`);
  }
  const files = isDir ? (await readdir(path)).filter(isKeyFileName).sort().map((f) => join(path, f)) : [path];
  for (const file of files) {
    if (isDir) {
      const info = await stat(file).catch((error: unknown) => {
        throw new EdgeError("config_invalid", `Cannot load trusted key file "${file}": ${errorMessage(error)}`);
      });
      refuseWritableByOthers(file, info.mode, "file");
    }
    for (const key of await readKeyFile(file)) add(map, key);
  }
  return map;
}

/**
 * Whoever can write the trusted keys can sign plugins that run as this runner: a directory or key
 * file that group or others may write is refused, not trusted (POSIX modes; no-op on Windows).
 */
function refuseWritableByOthers(path: string, mode: number, what: "directory" | "file"): void {
  if (process.platform === "win32" || (mode & 0o022) === 0) return;
  const shown = (mode & 0o777).toString(8).padStart(4, "0");
  throw new EdgeError("config_invalid", `Cannot trust the keys in ${what} "${path}": it is writable by ${mode & 0o002 ? "others" : "its group"} (mode ${shown}); run "chmod go-w ${path}"`);
}

async function readKeyFile(file: string): Promise<TrustedKey[]> {
  const fail = (reason: string): never => {
    throw new EdgeError("config_invalid", `Cannot load trusted key file "${file}": ${reason}`);
  };
  // A FIFO named like a key file would block every verification: refused (a symlink is followed:
  // Kubernetes ConfigMap and Secret mounts are symlinks).
  const text = await readTextFileBounded(file, MAX_CREDENTIAL_FILE_BYTES, { regularOnly: true }).catch((error: unknown) => fail(errorMessage(error)));
  if (text.includes("-----BEGIN")) {
    if (text.includes("PRIVATE KEY")) fail("it holds a private key; trust only public keys");
    try {
      const key = (await importSPKI(text, "EdDSA", { extractable: true })) as CryptoKey;
      const jwk = await exportJWK(key);
      const kid = await calculateJwkThumbprint(jwk, "sha256");
      return [{ kid, key, source: file, x: jwk.x ?? "" }];
    } catch (error) {
      return fail(`not an Ed25519 public key PEM (${errorMessage(error)})`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON (${errorMessage(error)})`);
  }
  const list = parsed !== null && typeof parsed === "object" && Array.isArray((parsed as { keys?: unknown }).keys) ? (parsed as { keys: unknown[] }).keys : [parsed];
  const out: TrustedKey[] = [];
  for (const jwk of list) out.push(await fromJwk(jwk as JWK, file));
  return out;
}

/** A key id names the key in messages and in every signature that uses it. */
const MAX_KID_CHARS = 256;

async function fromJwk(jwk: JWK, source: string): Promise<TrustedKey> {
  const fail = (reason: string): never => {
    throw new EdgeError("config_invalid", `Cannot load trusted key from "${source}": ${reason}`);
  };
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) fail("expected a JWK object");
  // Checked first: it goes into every message below, and a file's value is shown only cut.
  const rawKid: unknown = jwk.kid;
  if (rawKid !== undefined && (typeof rawKid !== "string" || rawKid === "" || rawKid.length > MAX_KID_CHARS)) fail(`"kid" is ${jsonPreview(rawKid)}, expected a key id of 1 to ${MAX_KID_CHARS} characters`);
  const named = rawKid ?? "?";
  if (jwk.d !== undefined) fail(`key "${named}" holds a private key; trust only public keys`);
  // An Ed25519 public key is 32 bytes: 43 base64url characters (jose's own refusal is not a config error).
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(jwk.x)) fail(`key "${named}" is not an Ed25519 public key (kty "OKP", crv "Ed25519", "x" of 43 base64url characters)`);
  if (jwk.alg !== undefined && jwk.alg !== "EdDSA" && jwk.alg !== "Ed25519") fail(`key "${named}" has alg ${jsonPreview(jwk.alg)}, expected "EdDSA"`);
  const exp = (jwk as { exp?: unknown }).exp;
  if (exp !== undefined && (typeof exp !== "number" || !Number.isFinite(exp))) fail(`key "${named}" has exp ${jsonPreview(exp)}, expected seconds since the epoch`);
  const kid = jwk.kid ?? (await calculateJwkThumbprint({ kty: "OKP", crv: "Ed25519", x: jwk.x as string }, "sha256"));
  let key: CryptoKey;
  try {
    key = (await importJWK({ kty: "OKP", crv: "Ed25519", x: jwk.x as string }, "EdDSA")) as CryptoKey;
  } catch (error) {
    return fail(`key "${kid}" cannot be imported (${errorMessage(error)})`);
  }
  return { kid, key, source, x: jwk.x as string, ...(typeof exp === "number" ? { expiresAt: exp * 1000 } : {}) };
}

function add(map: Map<string, TrustedKey>, key: TrustedKey): void {
  const existing = map.get(key.kid);
  if (existing !== undefined && existing.x === key.x) {
    // The same key twice (its .jwk and its .pem side by side): keep the earlier expiry.
    const expiresAt = Math.min(existing.expiresAt ?? Infinity, key.expiresAt ?? Infinity);
    if (expiresAt !== Infinity) existing.expiresAt = expiresAt;
    return;
  }
  // Two different keys under one id would make verification depend on file order: refuse.
  if (existing !== undefined) {
    throw new EdgeError("config_invalid", `Cannot load trusted key "${key.kid}" from "${key.source}": the id is already used by "${existing.source}"`);
  }
  map.set(key.kid, key);
}

/**
 * A fingerprint of the trusted keys on disk, taken synchronously (a reused verification is
 * answered in the same turn as the job's offer): inode, size, mtime and ctime of the path and,
 * for a directory, of every key file in it. Adding, removing, replacing, editing in place or
 * chmod-ing a key changes it; "" when the path is missing. Costs a readdir and one stat per file.
 */
export function trustedKeysStamp(path: string): string {
  try {
    const top = statSync(path);
    const parts = [fingerprint(top)];
    if (top.isDirectory()) {
      for (const name of readdirSync(path).filter(isKeyFileName).sort()) {
        try {
          parts.push(`${name}=${fingerprint(statSync(join(path, name)))}`);
        } catch {
          parts.push(`${name}=?`); // removed meanwhile, or unreadable: the reload says which
        }
      }
    }
    return parts.join(" ");
  } catch {
    return "";
  }
}

function fingerprint(info: Stats): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/** The files of a key directory that hold keys: *.jwk, *.json, *.jwks, *.pem, not hidden. */
function isKeyFileName(name: string): boolean {
  return KEY_FILE.test(name) && !name.startsWith(".");
}

/** Where the trusted keys are when the `trustedKeys` option is not set. */
export function defaultTrustedKeysPath(dataDir: string): string {
  return join(dataDir, "trusted-keys");
}
