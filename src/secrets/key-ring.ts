// The runner's key ring: the current RSA key (runner-key.pem, the one keygen makes) and the keys
// it replaced (runner-key.<kid>.pem), kept so inputs encrypted before a rotation still decrypt.
// A key's id is the RFC 7638 thumbprint of its public key. Every private key file is refused
// when other users can read it. Loading the ring reads each key's public numbers in plain JS
// (rsa-private-pem.ts), not with node:crypto, which a runner's start-up does not load; the
// private KeyObject is made at the first decryption (ring-private-key.ts).

import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { sha256 } from "../util/sha256.ts";
import { readRsaPrivatePem } from "./rsa-private-pem.ts";
import { ensureRunnerKey, readPrivateKeyFile, runnerKeyFiles } from "./runner-keys.ts";
import { MAX_CREDENTIAL_FILE_BYTES, readFileBounded } from "../util/read-file-bounded.ts";

const RETAINED = /^runner-key\.([A-Za-z0-9_-]{43})\.pem$/;
/** A ring of more keys than this is a mistake (or an attack on start-up time). */
const MAX_KEYS = 32;

/** A runner public key as told to a controller: RSA JWK with kid, use "enc", alg RSA-OAEP-256. */
export interface RunnerPublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  kid: string;
  use: "enc";
  alg: "RSA-OAEP-256";
}

export interface RingKey {
  kid: string;
  /**
   * The private key as read (PKCS#8 or PKCS#1 PEM); ring-private-key.ts makes its KeyObject.
   * Not enumerable: a ring key spread, logged or serialized never carries it.
   */
  readonly pem: string;
  publicJwk: RunnerPublicJwk;
  current: boolean;
  file: string;
  modulusLength: number;
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

/** The RFC 7638 thumbprint (SHA-256, base64url) of an RSA public key: members e, kty, n in that order. */
export function rsaKeyId(jwk: { n: string; e: string }): string {
  return base64url(sha256(new TextEncoder().encode(JSON.stringify({ e: jwk.e, kty: "RSA", n: jwk.n }))));
}

/** A ring entry for a private key PEM (`file` says where it came from); a config error when it is not a sound RSA key. */
export function ringKeyOf(pem: string, current: boolean, file: string): RingKey {
  const read = readRsaPrivatePem(pem);
  if (!read.ok) {
    const why = read.why === "not_rsa" ? "not an RSA key" : read.why === "corrupt" ? "not a well-formed RSA private key (corrupt?)" : "not a PEM private key";
    throw new EdgeError("config_invalid", `Cannot load runner key "${file}": ${why}`);
  }
  const n = base64url(read.numbers.n);
  const e = base64url(read.numbers.e);
  const kid = rsaKeyId({ n, e });
  const key = { kid, publicJwk: { kty: "RSA", n, e, kid, use: "enc", alg: "RSA-OAEP-256" }, current, file, modulusLength: read.numbers.bits } as Omit<RingKey, "pem">;
  return Object.defineProperty(key, "pem", { value: pem, enumerable: false }) as RingKey;
}

async function ringKey(file: string, current: boolean): Promise<RingKey> {
  return ringKeyOf(await readPrivateKeyFile(file), current, file);
}

export class RunnerKeyRing {
  readonly dir: string;
  readonly #keys: RingKey[];

  constructor(dir: string, keys: RingKey[]) {
    this.dir = dir;
    this.#keys = keys;
  }

  /** Loads the ring from `dir`; an empty ring when there is no current key. */
  static async load(dir: string): Promise<RunnerKeyRing> {
    const files = runnerKeyFiles(dir);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return new RunnerKeyRing(dir, []);
      throw new EdgeError("config_invalid", `Cannot read the runner key directory "${dir}": ${errorMessage(error)}`);
    }
    if (!names.includes("runner-key.pem")) return new RunnerKeyRing(dir, []);
    const keys = [await ringKey(files.privateKey, true)];
    const retained = names.filter((name) => RETAINED.test(name)).sort();
    if (retained.length + 1 > MAX_KEYS) throw new EdgeError("config_invalid", `Cannot load the runner key ring "${dir}": ${retained.length + 1} keys is over ${MAX_KEYS}; retire old ones`);
    for (const name of retained) {
      const key = await ringKey(join(dir, name), false);
      // A rotation cut short can leave the current key also kept under its id: count it once.
      if (!keys.some((k) => k.kid === key.kid)) keys.push(key);
    }
    return new RunnerKeyRing(dir, keys);
  }

  /** Current key first, then the retained ones. */
  get keys(): readonly RingKey[] {
    return this.#keys;
  }

  get current(): RingKey | undefined {
    return this.#keys[0];
  }

  get(kid: string): RingKey | undefined {
    return this.#keys.find((key) => key.kid === kid);
  }

  /** What the controller is told: every public key, the current one first. */
  publicJwks(): RunnerPublicJwk[] {
    return this.#keys.map((key) => key.publicJwk);
  }

  /** A digest of the ring's ids, to notice a rotation or retirement made by another process. */
  get fingerprint(): string {
    return this.#keys.map((key) => key.kid).join(",");
  }
}

export interface RotateOptions {
  /** RSA modulus; 4096 unless a test needs speed. */
  modulusLength?: number;
}

/**
 * Makes a new current key; the previous one is kept as runner-key.<kid>.pem for decryption.
 * The old key is written under its id before the new one replaces it, so a crash in between
 * loses nothing.
 */
export async function rotateRunnerKey(dir: string, options: RotateOptions = {}): Promise<{ previous?: string; current: string }> {
  const ring = await RunnerKeyRing.load(dir);
  const previous = ring.current;
  if (previous !== undefined) {
    await writeFileAtomic(join(dir, `runner-key.${previous.kid}.pem`), await readFileBounded(previous.file, MAX_CREDENTIAL_FILE_BYTES), { mode: 0o600, dirMode: 0o700 });
  }
  await ensureRunnerKey({ outDir: dir, force: true, ...(options.modulusLength === undefined ? {} : { modulusLength: options.modulusLength }) });
  const current = (await ringKey(runnerKeyFiles(dir).privateKey, true)).kid;
  return previous === undefined ? { current } : { previous: previous.kid, current };
}

/** Removes a retained key. The current key cannot be retired (rotate first). */
export async function retireRunnerKey(dir: string, kid: string): Promise<void> {
  const ring = await RunnerKeyRing.load(dir);
  const key = ring.get(kid);
  if (key === undefined) throw new EdgeError("not_found", `Cannot retire runner key "${kid.slice(0, 64)}": the ring in "${dir}" has no such key`);
  if (key.current) throw new EdgeError("conflict", `Cannot retire runner key "${kid}": it is the current key; run "edge-runner keys rotate" first`);
  await rm(key.file);
}
