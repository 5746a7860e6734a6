// The controller's secret store: named secrets a job may ask for by reference. Values live in
// one file, rewritten atomically, each sealed with the controller's key file (secrets.key, 0600;
// see src/secrets/at-rest.ts), so the store file alone holds no value in plain text. A value is
// only ever given to the runner that holds the lease of a job that declared the reference (see
// edge-secrets.ts), encrypted to that runner's key, and never listed.

import * as fs from "node:fs";
import * as path from "node:path";
import { EdgeError } from "../errors.ts";
import { AtRestCipher } from "../secrets/at-rest.ts";
import { writeFileAtomic } from "./jsonl-file.ts";
import { FileTooLargeError, readTextFileBoundedSync } from "../util/read-file-bounded.ts";

/** A reference: what a job lists in `secrets` and a plugin passes to `ctx.secrets.get()`. */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,127}$/;
const MAX_VALUE_BYTES = 64 * 1024;

/**
 * The most secrets a store keeps: the file store's file is read whole at start, and both answer
 * every name in one list (`GET /api/v1/secrets`), so PostgreSQL's keeps as many. A new name past
 * it is refused (409).
 */
export const MAX_SECRETS = 1000;

/**
 * The most bytes of `secrets.json`: MAX_SECRETS entries of the longest name (128 characters) and
 * the longest value sealed (AtRestCipher.seal(): "v1." + 16 characters of IV + "." + the 64 KiB
 * value in base64url + "." + 22 characters of tag), as `"name":"sealed",`, and the file's own
 * `{"v":2,"values":{}}`. Names and sealed values are ASCII: no JSON escapes. About 84 MiB.
 */
export const MAX_SECRETS_FILE_BYTES = MAX_SECRETS * (128 + 2 + 1 + sealedLength(MAX_VALUE_BYTES) + 2 + 1) + 64;

function sealedLength(plainBytes: number): number {
  return 3 + 16 + 1 + Math.ceil((plainBytes * 4) / 3) + 1 + 22;
}

/**
 * Where the controller's secrets live: this file (the default) or PostgreSQL with `storeUrl`
 * (postgres/pg-secrets.ts), both sealed with the same key file's cipher.
 */
export interface ControllerSecrets {
  /** The controller's at-rest cipher (its key file), shared with sensitive job outputs. */
  readonly cipher: AtRestCipher;
  /** At most MAX_SECRETS names, see SecretNames. */
  names(): Promise<SecretNames>;
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
}

/**
 * What `GET /api/v1/secrets` lists: the first MAX_SECRETS names in code-unit order, and whether
 * the store holds more. A store can hold more only if it was filled before the cap or by another
 * tool (a shared database, an edited `secrets.json`); the list stays bounded, and the operator
 * sees the first names (to delete some) and the flag, instead of an unbounded answer or none.
 */
export interface SecretNames {
  names: string[];
  truncated: boolean;
}

/** `sorted`: the store's names in order, at least the first MAX_SECRETS + 1 of them (more is fine). */
export function firstSecretNames(sorted: readonly string[]): SecretNames {
  return { names: sorted.slice(0, MAX_SECRETS), truncated: sorted.length > MAX_SECRETS };
}

/** The one rule for a secret's name and value, whichever store keeps it. */
export function checkSecret(name: string, value: string): void {
  if (!SECRET_NAME.test(name)) throw new EdgeError("input_invalid", `Cannot store secret "${name.slice(0, 130)}": a name is 1 to 128 letters, digits and "_.-/", starting with a letter or digit`);
  if (value === "" || Buffer.byteLength(value) > MAX_VALUE_BYTES) throw new EdgeError("input_invalid", `Cannot store secret "${name}": its value must be 1 byte to 64 KiB`);
}

/** The key file: `secretsKeyFile`, or `secrets.key` in the controller's data directory. */
export function secretsCipher(dir: string, keyFile?: string): AtRestCipher {
  return AtRestCipher.fromKeyFile(keyFile ?? path.join(dir, "secrets.key"));
}

export class SecretStore implements ControllerSecrets {
  readonly #file: string;
  readonly #cipher: AtRestCipher;
  /** name → sealed value; opened only when a runner resolves it. */
  readonly #values = new Map<string, string>();

  constructor(dir: string, cipher: AtRestCipher = secretsCipher(dir)) {
    this.#file = path.join(dir, "secrets.json");
    this.#cipher = cipher;
    if (!fs.existsSync(this.#file)) return;
    const parsed = JSON.parse(readSecretsFile(this.#file)) as Record<string, unknown>;
    if (parsed.v === 2 && parsed.values !== null && typeof parsed.values === "object") {
      for (const [name, value] of Object.entries(parsed.values)) if (typeof value === "string") this.#values.set(name, value);
      return;
    }
    // A store from before sealing: seal every value and rewrite the file at once.
    for (const [name, value] of Object.entries(parsed)) if (typeof value === "string") this.#values.set(name, this.#cipher.seal(value, name));
    this.#save();
  }

  /** The controller's at-rest cipher (its key file), shared with sensitive job outputs. */
  get cipher(): AtRestCipher {
    return this.#cipher;
  }

  // Async only to share the interface with the database store: the work is done at once.
  async names(): Promise<SecretNames> {
    return firstSecretNames([...this.#values.keys()].sort());
  }

  async get(name: string): Promise<string | undefined> {
    const sealed = this.#values.get(name);
    return sealed === undefined ? undefined : this.#cipher.open(sealed, name);
  }

  async set(name: string, value: string): Promise<void> {
    checkSecret(name, value);
    if (!this.#values.has(name) && this.#values.size >= MAX_SECRETS) {
      throw new EdgeError("conflict", `Cannot store secret "${name}": the controller's secret file holds ${this.#values.size} secrets, the most it keeps (${MAX_SECRETS}); delete one first`);
    }
    const sealed = this.#cipher.seal(value, name);
    const next = new Map(this.#values).set(name, sealed);
    this.#save(next);
    this.#values.set(name, sealed);
  }

  async delete(name: string): Promise<boolean> {
    if (!this.#values.has(name)) return false;
    const next = new Map(this.#values);
    next.delete(name);
    this.#save(next);
    this.#values.delete(name);
    return true;
  }

  /** Written before memory changes: a failed write (a full disk) changes nothing. */
  #save(values: Map<string, string> = this.#values): void {
    writeFileAtomic(this.#file, JSON.stringify({ v: 2, values: Object.fromEntries(values) }));
  }
}

/** The store file's text; one larger than MAX_SECRETS_FILE_BYTES is refused before it is read. */
function readSecretsFile(file: string): string {
  try {
    return readTextFileBoundedSync(file, MAX_SECRETS_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) throw new EdgeError("config_invalid", `Cannot load the controller's secrets: ${error.message} (${MAX_SECRETS} secrets of 64 KiB, sealed)`);
    throw error;
  }
}
