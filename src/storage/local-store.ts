// The default backend: objects as files under `<dataDir>/storage`. A key's segments become
// directories named `<segment>.d` and the last one a file `<segment>.o` (with `<segment>.m` for its
// content type and metadata), so "a" and "a/b" can both exist as they can in S3. Writes go to a
// temp file then rename, so a reader sees all or nothing. No fsync: the data dies with the job.

import { mkdir, open, opendir, readdir, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { EdgeError, errorMessage } from "../errors.ts";
import { randomHex } from "../util/random-hex.ts";
import { OWN_FILE, readTextFileBounded } from "../util/read-file-bounded.ts";
import { keyUnder } from "./storage-keys.ts";
import type { DeletePrefixOptions, ListOptions, ObjectInfo, ObjectStore, PutObjectOptions, StoredObject } from "./object-store.ts";

const READ_CHUNK = 1024 * 1024;
/** An object's content type and metadata (S3 allows 2 KiB of metadata); a bigger `.m` file is not ours. */
const MAX_META_BYTES = 64 * 1024;

export class LocalObjectStore implements ObjectStore {
  readonly kind = "local" as const;
  readonly location: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.location = dir;
  }

  async put(key: string, body: Uint8Array | ReadableStream<Uint8Array>, options: PutObjectOptions = {}): Promise<number> {
    const file = this.#file(key);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const temp = join(dirname(file), `.${randomHex(6)}.tmp`);
    let size = 0;
    try {
      if (body instanceof Uint8Array) {
        options.signal?.throwIfAborted();
        await writeFile(temp, body, { mode: 0o600 });
        size = body.byteLength;
      } else {
        size = await writeStream(temp, body, options.signal);
      }
      const meta = metaOf(options);
      if (meta === undefined) await rm(`${file.slice(0, -2)}.m`, { force: true });
      else await writeFile(`${file.slice(0, -2)}.m`, JSON.stringify(meta), { mode: 0o600 });
      await rename(temp, file);
      return size;
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const info = await this.head(key);
    if (info === undefined) return undefined;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.#file(key), "r");
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const buffer = new Uint8Array(READ_CHUNK);
          const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
          if (bytesRead === 0) {
            await close();
            controller.close();
            return;
          }
          controller.enqueue(bytesRead === READ_CHUNK ? buffer : buffer.subarray(0, bytesRead));
        } catch (error) {
          await close().catch(() => undefined);
          controller.error(error);
        }
      },
      cancel: () => close(),
    }, { highWaterMark: 0 });
    return { info, body };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.#file(key);
    let stats;
    try {
      stats = await stat(file);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const info: ObjectInfo = { key, size: stats.size, lastModified: stats.mtimeMs };
    try {
      const meta = JSON.parse(await readTextFileBounded(`${file.slice(0, -2)}.m`, MAX_META_BYTES, OWN_FILE)) as { contentType?: string; metadata?: Record<string, string> };
      if (typeof meta.contentType === "string") info.contentType = meta.contentType;
      if (meta.metadata !== undefined) info.metadata = meta.metadata;
    } catch (error) {
      if (!isMissing(error)) throw new EdgeError("storage_failed", `Cannot read the metadata of "${key}": ${errorMessage(error)}`);
    }
    return info;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    // Walk from the deepest directory the prefix names completely, then filter by the rest.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash + 1);
    const dir = this.#dirOf(base);
    for await (const info of this.#walk(dir, base)) {
      options.signal?.throwIfAborted();
      if (info.key.startsWith(prefix)) yield info;
    }
  }

  async *children(prefix: string, options: ListOptions = {}): AsyncIterable<string> {
    const dir = this.#dirOf(prefix);
    let entries;
    try {
      // Streamed, not read whole: a runner directory may hold very many job directories.
      entries = await opendir(dir);
    } catch (error) {
      if (isAbsent(error)) return;
      throw error;
    }
    for await (const entry of entries) {
      options.signal?.throwIfAborted();
      if (entry.isDirectory() && entry.name.endsWith(".d")) yield `${prefix}${entry.name.slice(0, -2)}/`;
    }
  }

  async *leftovers(prefix: string): AsyncIterable<{ key: string; lastModified: number }> {
    const base = prefix.endsWith("/") ? prefix : prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const dir = this.#dirOf(base);
    for await (const found of this.#residue(dir, base)) if (found.key.startsWith(prefix)) yield found;
  }

  async delete(key: string): Promise<void> {
    const file = this.#file(key);
    await unlink(file).catch((error: unknown) => { if (!isMissing(error)) throw error; });
    await rm(`${file.slice(0, -2)}.m`, { force: true });
  }

  async deletePrefix(prefix: string, options: DeletePrefixOptions = {}): Promise<number> {
    let count = 0;
    for await (const key of options.listed ?? this.#keysUnder(prefix)) {
      options.signal?.throwIfAborted();
      await this.delete(keyUnder(prefix, key));
      count++;
    }
    // Attempt directories are whole prefixes ending in "/": remove the tree, then empty parents.
    if (prefix.endsWith("/")) {
      options.signal?.throwIfAborted();
      const parts = prefix.slice(0, -1).split("/");
      await rm(join(this.#dir, ...parts.map((s) => `${s}.d`)), { recursive: true, force: true });
      for (let n = parts.length - 1; n > 0; n--) {
        try {
          await rmdir(join(this.#dir, ...parts.slice(0, n).map((s) => `${s}.d`)));
        } catch {
          break; // not empty (another attempt lives there) or already gone
        }
      }
    }
    return count;
  }

  async close(): Promise<void> {}

  async *#keysUnder(prefix: string): AsyncIterable<string> {
    for await (const info of this.list(prefix)) yield info.key;
  }

  async *#walk(dir: string, keyBase: string): AsyncIterable<ObjectInfo> {
    const names = await namesIn(dir);
    if (names === undefined) return;
    for (const name of names.sort()) {
      if (name.endsWith(".d")) yield* this.#walk(join(dir, name), `${keyBase}${name.slice(0, -2)}/`);
      else if (name.endsWith(".o")) {
        const info = await this.head(`${keyBase}${name.slice(0, -2)}`);
        if (info !== undefined) yield info;
      }
    }
  }

  /** Temp files, `.m` files and empty directories under `dir`, each with its mtime. */
  async *#residue(dir: string, keyBase: string): AsyncIterable<{ key: string; lastModified: number }> {
    const names = await namesIn(dir);
    if (names === undefined) return;
    if (names.length === 0) {
      const modified = await mtimeOf(dir);
      if (modified !== undefined) yield { key: keyBase, lastModified: modified };
      return;
    }
    for (const name of names.sort()) {
      if (name.endsWith(".d")) yield* this.#residue(join(dir, name), `${keyBase}${name.slice(0, -2)}/`);
      else if (name.endsWith(".tmp") || name.endsWith(".m")) {
        const modified = await mtimeOf(join(dir, name));
        if (modified !== undefined) yield { key: `${keyBase}${name}`, lastModified: modified };
      }
    }
  }

  /** The directory of a key prefix ending in "/" ("" for the root): each segment a `<segment>.d` directory. */
  #dirOf(prefix: string): string {
    return prefix === "" ? this.#dir : join(this.#dir, ...prefix.slice(0, -1).split("/").map((s) => `${s}.d`));
  }

  #file(key: string): string {
    const parts = key.split("/");
    const last = parts.pop() as string;
    return join(this.#dir, ...parts.map((s) => `${s}.d`), `${last}.o`);
  }
}

async function writeStream(file: string, body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined): Promise<number> {
  const handle = await open(file, "w", 0o600);
  const reader = body.getReader();
  let size = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      let at = 0;
      while (at < value.byteLength) at += (await handle.write(value, at, value.byteLength - at)).bytesWritten;
      size += value.byteLength;
    }
    return size;
  } catch (error) {
    await reader.cancel(error).catch(() => undefined);
    throw error;
  } finally {
    await handle.close();
  }
}

function metaOf(options: PutObjectOptions): { contentType?: string; metadata?: Record<string, string> } | undefined {
  if (options.contentType === undefined && options.metadata === undefined) return undefined;
  return { ...(options.contentType === undefined ? {} : { contentType: options.contentType }), ...(options.metadata === undefined ? {} : { metadata: options.metadata }) };
}

/** The names in `dir`; undefined when it is not there (a walk over what a crash or a cleanup left). */
async function namesIn(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isAbsent(error)) return undefined;
    throw error;
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch (error) {
    if (isMissing(error)) return undefined; // deleted meanwhile (a write finishing, a cleanup)
    throw error;
  }
}

/**
 * No such directory: missing, a file, or a name too long to exist (a runner id an earlier version
 * used whole, which the sweeper still looks under: storage-keys.ts unhashedRunnerPrefix).
 */
function isAbsent(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG";
}

function isMissing(error: unknown): boolean {
  return (error as { code?: string }).code === "ENOENT";
}
