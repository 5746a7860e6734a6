// Job-scoped callback tokens: a pipeline started by a job (async mode) or a manual approval step
// reports back to the controller with a token that is good for that one job only. The token is
// HMAC-SHA256(controller key, job id), so nothing per job is stored; the key lives in the data
// directory (0600) so tokens survive a restart.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync } from "node:fs";
import * as path from "node:path";
import { createFileOnce } from "../util/create-file-once.ts";
import { EdgeError, errorMessage } from "../errors.ts";
import { readFileBoundedSync } from "../util/read-file-bounded.ts";

export const CALLBACK_PATH_PREFIX = "/callback/v1/jobs";

/** Reserved references a job's plugin resolves through ctx.secrets (lease holder only, no declaration needed). */
export const CALLBACK_URL_REF = "$callback.url";
export const CALLBACK_TOKEN_REF = "$callback.token";

export class CallbackTokens {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new RangeError("Cannot use a callback key shorter than 32 bytes");
    this.#key = key;
  }

  /** Reads `<dir>/callback.key`, creating it (32 random bytes, 0600) on first use. */
  static inDir(dir: string): CallbackTokens {
    const file = path.join(dir, "callback.key");
    // Whole or absent: a short key left by a full disk would stop every later start.
    if (!existsSync(file)) createFileOnce(file, randomBytes(32), 0o600);
    chmodSync(file, 0o600);
    let key: Uint8Array;
    try {
      // 32 bytes are written; a bigger file is not this key.
      key = readFileBoundedSync(file, 4096);
    } catch (error) {
      throw new EdgeError("config_invalid", `Cannot use the callback key file "${file}": ${errorMessage(error)}`);
    }
    return new CallbackTokens(Buffer.from(key));
  }

  token(jobId: string): string {
    return createHmac("sha256", this.#key).update(`edge-runner callback v1\0${jobId}`).digest("base64url");
  }

  verify(jobId: string, token: string | undefined): boolean {
    if (token === undefined || token.length > 128) return false;
    const want = Buffer.from(this.token(jobId));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
