// Values kept on disk encrypted with a key file of their own (32 random bytes, mode 0600, made on
// first use): AES-256-GCM with a fresh IV per value, stored as "v1.<iv>.<ciphertext>.<tag>" in
// base64url. The controller seals its secrets and sensitive outputs with one, the runner its
// meshStack outbox with another. A copy of the data directory without the key file holds no
// secret in plain text.

import { secretFileRefusal } from "../util/secret-file-rule.ts";
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { createFileOnce } from "../util/create-file-once.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

const KEY_BYTES = 32;
/** A key file holds 45 characters; a few KiB leaves room for comments or CRLF, a bigger one is not a key. */
export const MAX_KEY_FILE_BYTES = 4096;

/** Whose key file it is, as messages name it: "controller" (secrets.key), "meshStack outbox" (the runner's outbox.key), "result spool" (the runner's results.key). */
export type AtRestKeyOwner = "controller" | "meshStack outbox" | "result spool";

export class AtRestCipher {
  readonly #key: Buffer;
  readonly #owner: AtRestKeyOwner;

  constructor(key: Buffer, owner: AtRestKeyOwner = "controller") {
    if (key.length !== KEY_BYTES) throw new RangeError(`An at-rest key is ${KEY_BYTES} bytes, not ${key.length}`);
    this.#key = key;
    this.#owner = owner;
  }

  /**
   * The key's id: 16 hex digits derived from it (HKDF, not reversible), so a record, a listing or
   * the doctor can name the key that sealed a value without showing it.
   */
  get id(): string {
    return this.deriveKey("key id", 8).toString("hex");
  }

  /** Reads the key file, or creates it (0600, its directory 0700) when missing; refuses one other users can read. */
  static fromKeyFile(file: string, owner: AtRestKeyOwner = "controller"): AtRestCipher {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // Whole or absent: a short key left by a full disk would stop every later start.
      createFileOnce(file, randomBytes(KEY_BYTES).toString("base64") + "\n", 0o600);
    }
    const info = fs.statSync(file);
    const refusal = secretFileRefusal(file, info);
    if (refusal !== undefined) throw new EdgeError("config_invalid", `Refusing ${owner} key file "${file}": ${refusal.reason}${refusal.fix === undefined ? "" : `; run ${refusal.fix}`}`);
    let text: string;
    try {
      text = readTextFileBoundedSync(file, MAX_KEY_FILE_BYTES);
    } catch (error) {
      throw new EdgeError("config_invalid", `Cannot use ${owner} key file "${file}": ${errorMessage(error)}`);
    }
    const key = Buffer.from(text.trim(), "base64");
    if (key.length !== KEY_BYTES) throw new EdgeError("config_invalid", `Cannot use ${owner} key file "${file}": it must hold ${KEY_BYTES} bytes in base64`);
    return new AtRestCipher(key, owner);
  }

  /** A key for another purpose derived from this one (HKDF-SHA256): every holder of the key file derives the same. */
  deriveKey(purpose: string, bytes = 32): Buffer {
    return Buffer.from(hkdfSync("sha256", this.#key, Buffer.alloc(0), `edge-runner ${purpose}`, bytes));
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    // The context (e.g. the secret's name) is authenticated: a value cannot be moved to another name.
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return ["v1", iv, body, cipher.getAuthTag()].map((part) => (typeof part === "string" ? part : part.toString("base64url"))).join(".");
  }

  /** What open() says when this key does not open a value: the key file named, never the key. */
  mismatch(context: string): EdgeError {
    return new EdgeError("secret_corrupt", `Cannot open the stored value of "${context}": the ${this.#owner} key file does not match or the value was altered`);
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split(".");
    if (parts.length !== 4 || parts[0] !== "v1") throw new EdgeError("secret_corrupt", `Cannot open the stored value of "${context}": not a sealed value`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(parts[1]!, "base64url"));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(parts[3]!, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(parts[2]!, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      throw this.mismatch(context);
    }
  }
}
