// Job artifacts on the reference controller's disk: `<dir>/artifacts/<jobId>/<name>.data` with
// `<name>.meta` beside it (size, SHA-256, content type, attempt). Written to a temp file and
// renamed, digest computed as the bytes arrive, refused past the size limit at the byte that
// crosses it. Dropped with their job when its retention ends.

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { open, open as openFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { EdgeError } from "../errors.ts";
import { syncDir } from "../util/atomic-write.ts";
import { isStoreWriteError, storeRefusal } from "./store-failure.ts";
import { readTextFileBoundedSync } from "../util/read-file-bounded.ts";

/** An artifact's record (name, size, digest, content type): well under 64 KiB; a bigger one is not ours. */
const MAX_META_BYTES = 64 * 1024;

export interface StoredArtifact {
  name: string;
  size: number;
  sha256: string;
  contentType?: string;
  attempt: number;
  storedAt: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

/**
 * Where job artifacts live: the controller's disk (the default) or PostgreSQL with `storeUrl`
 * (postgres/pg-artifacts.ts), with the same limit and the same all-or-nothing writes.
 */
export interface ControllerArtifacts {
  readonly maxBytes: number;
  /** Stores `body` as artifact `name` of `jobId`, replacing an earlier attempt's; refused past `maxBytes`. */
  put(jobId: string, attempt: number, name: string, body: ReadableStream<Uint8Array>, contentType: string | undefined, now: number): Promise<StoredArtifact>;
  /** The job's artifacts, by name. */
  list(jobId: string): Promise<StoredArtifact[]>;
  /** The artifact's record and its bytes as a stream read on demand, or undefined. */
  open(jobId: string, name: string): Promise<{ record: StoredArtifact; body: ReadableStream<Uint8Array> } | undefined>;
  /** Deletes the artifacts of jobs whose retention ended (in the background for a database). */
  drop(jobIds: readonly string[]): void;
}

/** The one rule for an artifact's name and content type, whichever store keeps it. */
export function checkArtifact(name: string, contentType: string | undefined): void {
  checkName(name);
  if (contentType !== undefined && !CONTENT_TYPE.test(contentType)) throw new EdgeError("input_invalid", `Cannot store artifact "${name}": content type "${contentType.slice(0, 100)}" is not printable ASCII of at most 200 characters`);
}

/** Counts and hashes an upload as its bytes arrive; refuses the chunk that crosses the limit. */
export class ArtifactMeter {
  size = 0;
  readonly #hash = createHash("sha256");
  constructor(readonly name: string, readonly jobId: string, readonly maxBytes: number) {}

  add(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) throw new EdgeError("storage_limit", `Cannot store artifact "${this.name}" of job "${this.jobId}": it is over the limit of ${this.maxBytes} bytes`);
    this.#hash.update(chunk);
  }

  sha256(): string {
    return this.#hash.digest("hex");
  }
}

export class ArtifactStore implements ControllerArtifacts {
  readonly maxBytes: number;
  readonly #dir: string;

  constructor(options: { dir: string; maxBytes: number }) {
    this.#dir = options.dir;
    this.maxBytes = options.maxBytes;
  }

  /** Stores `body` as artifact `name` of `jobId`, replacing an earlier attempt's. */
  async put(jobId: string, attempt: number, name: string, body: ReadableStream<Uint8Array>, contentType: string | undefined, now: number): Promise<StoredArtifact> {
    checkArtifact(name, contentType);
    const dir = this.#jobDir(jobId);
    const stem = path.join(dir, `.${randomBytes(6).toString("hex")}`);
    const temp = `${stem}.tmp`;
    const metaTemp = `${stem}.meta.tmp`;
    const data = path.join(dir, `${name}.data`);
    const meter = new ArtifactMeter(name, jobId, this.maxBytes);
    let renamed = false;
    const reader = body.getReader();
    // Nothing is acknowledged that is not on disk and nothing partial stays: the bytes and the
    // record are each written to a temp file and fsync'd before either is renamed into place; a
    // failure (a full disk) removes both temps, and the data file too if its record did not land.
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const handle = await open(temp, "w", 0o600);
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          meter.add(value);
          let at = 0;
          while (at < value.byteLength) at += (await handle.write(value, at, value.byteLength - at)).bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const record: StoredArtifact = { name, size: meter.size, sha256: meter.sha256(), attempt, storedAt: now, ...(contentType === undefined ? {} : { contentType }) };
      const meta = await open(metaTemp, "w", 0o600);
      try {
        await meta.writeFile(JSON.stringify(record));
        await meta.sync();
      } finally {
        await meta.close();
      }
      await rename(temp, data);
      renamed = true;
      await rename(metaTemp, path.join(dir, `${name}.meta`));
      await syncDir(dir);
      return record;
    } catch (error) {
      await reader.cancel().catch(() => undefined);
      await rm(temp, { force: true });
      await rm(metaTemp, { force: true });
      if (renamed) await rm(data, { force: true });
      throw isStoreWriteError(error) ? storeRefusal(`store artifact "${name}" of job "${jobId}"`, error as Error) : error;
    }
  }

  async list(jobId: string): Promise<StoredArtifact[]> {
    return this.#list(jobId);
  }

  #list(jobId: string): StoredArtifact[] {
    let names: string[];
    try {
      names = readdirSync(this.#jobDir(jobId));
    } catch {
      return [];
    }
    const out: StoredArtifact[] = [];
    for (const file of names.sort()) {
      if (!file.endsWith(".meta")) continue;
      try {
        out.push(JSON.parse(readTextFileBoundedSync(path.join(this.#jobDir(jobId), file), MAX_META_BYTES)) as StoredArtifact);
      } catch {
        // A record being written right now; the next listing has it.
      }
    }
    return out;
  }

  async open(jobId: string, name: string): Promise<{ record: StoredArtifact; body: ReadableStream<Uint8Array> } | undefined> {
    const found = this.#find(jobId, name);
    if (found === undefined) return undefined;
    const handle = await openFile(found.file, "r");
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const buffer = new Uint8Array(256 * 1024);
        const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
        if (bytesRead === 0) {
          await handle.close();
          controller.close();
        } else {
          controller.enqueue(buffer.subarray(0, bytesRead));
        }
      },
      cancel: () => handle.close(),
    });
    return { record: found.record, body };
  }

  /** The artifact's record and file path, or undefined. */
  #find(jobId: string, name: string): { record: StoredArtifact; file: string } | undefined {
    if (!NAME.test(name)) return undefined;
    const record = this.#list(jobId).find((r) => r.name === name);
    if (record === undefined) return undefined;
    const file = path.join(this.#jobDir(jobId), `${name}.data`);
    try {
      if (statSync(file).size !== record.size) return undefined;
    } catch {
      return undefined;
    }
    return { record, file };
  }

  /** Deletes the artifacts of jobs whose retention ended. */
  drop(jobIds: readonly string[]): void {
    for (const id of jobIds) rmSync(this.#jobDir(id), { recursive: true, force: true });
  }

  #jobDir(jobId: string): string {
    return path.join(this.#dir, encodeURIComponent(jobId).replace(/\./g, "%2E"));
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new EdgeError("input_invalid", `Cannot store artifact "${name.slice(0, 100)}": a name is 1 to 128 letters, digits and "._-", starting with a letter or digit`);
}
