// An at-rest key with the keys it replaced, rotated like the runner's key ring: the key file
// (e.g. outbox.key) holds the current key, which seals every new value; a rotation keeps the
// previous key beside it as <stem>.<id>.key (0600), read only to open what it sealed, until the
// operator retires it once nothing sealed with it is left. Each key is named by its id
// (AtRestCipher.id), never shown.

import * as fs from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { EdgeError } from "../errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { readFileBoundedSync } from "../util/read-file-bounded.ts";
import { AtRestCipher, MAX_KEY_FILE_BYTES, type AtRestKeyOwner } from "./at-rest.ts";

/** More retained keys than this is a mistake: retire old ones. */
const MAX_KEYS = 32;
const KEY_ID = /^[0-9a-f]{16}$/;

export interface AtRestRingKey {
  id: string;
  current: boolean;
  /** Where it was read from; empty for a key held only in memory. */
  file: string;
  cipher: AtRestCipher;
}

/** The name a key replaced in a rotation is kept under, beside the key file: outbox.key → outbox.<id>.key. */
export function retainedKeyFile(file: string, id: string): string {
  return join(dirname(file), `${stemOf(file)}.${id}.key`);
}

const stemOf = (file: string): string => basename(file).replace(/\.key$/, "");

export class AtRestKeyRing {
  readonly #keys: readonly AtRestRingKey[];

  private constructor(keys: readonly AtRestRingKey[]) {
    this.#keys = keys;
  }

  /** A ring of keys held in memory, the first one current. */
  static of(ciphers: readonly AtRestCipher[]): AtRestKeyRing {
    if (ciphers.length === 0) throw new RangeError("An at-rest key ring needs a current key");
    return new AtRestKeyRing(ciphers.map((cipher, i) => ({ id: cipher.id, current: i === 0, file: "", cipher })));
  }

  /**
   * The key file (created when missing, like AtRestCipher.fromKeyFile) and the keys kept beside
   * it by rotations; each refused like the key file when other users can read it. With
   * `create: false`, undefined when the key file does not exist.
   */
  static load(file: string, owner: AtRestKeyOwner, options: { create?: boolean } = {}): AtRestKeyRing | undefined {
    if (options.create === false && !fs.existsSync(file)) return undefined;
    const current = AtRestCipher.fromKeyFile(file, owner);
    const keys: AtRestRingKey[] = [{ id: current.id, current: true, file, cipher: current }];
    const pattern = new RegExp(`^${stemOf(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.([0-9a-f]{16})\\.key$`);
    const retained = fs.readdirSync(dirname(file)).filter((name) => pattern.test(name)).sort();
    if (retained.length + 1 > MAX_KEYS) throw new EdgeError("config_invalid", `Cannot load the ${owner} keys beside "${file}": ${retained.length + 1} keys is over ${MAX_KEYS}; retire old ones`);
    for (const name of retained) {
      const cipher = AtRestCipher.fromKeyFile(join(dirname(file), name), owner);
      // A rotation cut short leaves the current key also kept under its id: count it once.
      if (!keys.some((key) => key.id === cipher.id)) keys.push({ id: cipher.id, current: false, file: join(dirname(file), name), cipher });
    }
    return new AtRestKeyRing(keys);
  }

  /** The current key first, then the retained ones. */
  get keys(): readonly AtRestRingKey[] {
    return this.#keys;
  }

  get current(): AtRestRingKey {
    return this.#keys[0]!;
  }

  get(id: string): AtRestRingKey | undefined {
    return this.#keys.find((key) => key.id === id);
  }

  /** Seals with the current key; `key` names it, to be stored beside the value. */
  seal(plain: string, context: string): { sealed: string; key: string } {
    return { sealed: this.current.cipher.seal(plain, context), key: this.current.id };
  }

  /**
   * Opens with the key named by `hint` (the id stored with the value) when the ring has it, else
   * with each key in turn; says which key opened it. A value no key opens gets the current key's
   * error, which names the key file.
   */
  open(sealed: string, context: string, hint?: string): { plain: string; key: string } {
    const hinted = hint === undefined ? undefined : this.get(hint);
    for (const key of hinted === undefined ? this.#keys : [hinted, ...this.#keys.filter((k) => k !== hinted)]) {
      try {
        return { plain: key.cipher.open(sealed, context), key: key.id };
      } catch {
        // the next key
      }
    }
    throw this.current.cipher.mismatch(context);
  }
}

/**
 * Makes a new current key in `file`; the previous one is kept as <stem>.<id>.key for opening what
 * it sealed. The old key is written under its id before the new one replaces it, so a crash in
 * between loses nothing.
 */
export async function rotateAtRestKey(file: string, owner: AtRestKeyOwner): Promise<{ previous?: string; current: string }> {
  const existed = fs.existsSync(file);
  const ring = AtRestKeyRing.load(file, owner)!;
  if (!existed) return { current: ring.current.id };
  const previous = ring.current.id;
  await writeFileAtomic(retainedKeyFile(file, previous), readFileBoundedSync(file, MAX_KEY_FILE_BYTES), { mode: 0o600, dirMode: 0o700 });
  await writeFileAtomic(file, randomBytes(32).toString("base64") + "\n", { mode: 0o600, dirMode: 0o700 });
  return { previous, current: AtRestKeyRing.load(file, owner)!.current.id };
}

/** Removes a retained key; the caller has checked that nothing sealed with it is left. The current key cannot be retired. */
export async function retireAtRestKey(file: string, owner: AtRestKeyOwner, id: string): Promise<void> {
  const shown = KEY_ID.test(id) ? id : id.slice(0, 64);
  const ring = AtRestKeyRing.load(file, owner, { create: false });
  const key = ring?.get(id);
  if (key === undefined) throw new EdgeError("not_found", `Cannot retire ${owner} key "${shown}": there is no such key beside "${file}"`);
  if (key.current) throw new EdgeError("conflict", `Cannot retire ${owner} key "${shown}": it is the current key; rotate first`);
  await fs.promises.rm(key.file);
}
