// One job attempt's objects, as the host serves them to the plugin: keys scoped under the
// attempt's prefix, the per-object and per-job size limits enforced while bytes flow (a stream is
// refused at the byte that crosses a limit, not after it was stored), counters kept, and every
// call refused once the attempt has ended.

import { EdgeError, errorMessage } from "../errors.ts";
import type { ObjectInfo, ObjectStore, StoredObject } from "./object-store.ts";
import type { ObjectOptions } from "./storage-keys.ts";
import type { StorageStats } from "./storage-stats.ts";

export interface StorageLimits {
  /** Largest single object, in bytes. */
  maxObjectBytes: number;
  /** Largest total of one attempt's live objects, in bytes. */
  maxJobBytes: number;
  /** Most objects one attempt may hold at once; DEFAULT_MAX_JOB_OBJECTS when unset. */
  maxJobObjects?: number;
}

/** storageMaxJobObjects' default: keeps an attempt's cleanup and sweep listing bounded. */
export const DEFAULT_MAX_JOB_OBJECTS = 100_000;

/**
 * One-shot calls (a put of bytes, a get until the store answers, head, list, delete) one attempt
 * has at the store at once; more wait their turn. The S3 backend's job connections are shared
 * (50): without it one plugin firing hundreds of calls queued every other job's requests behind
 * its own. Streamed puts are not held here: each is an open stream (16 at most) and one waiting
 * for a turn behind others the plugin has not ended yet could wait forever.
 */
export const MAX_CONCURRENT_CALLS = 8;

/** At most this many keys come back from one list() call. */
export const MAX_LIST_KEYS = 10_000;

type AttemptState = "open" | "ended";

export class AttemptStorage {
  /** `<runnerId>/<jobId>/<attempt>/` */
  readonly prefix: string;
  readonly label: string;
  readonly #store: ObjectStore;
  readonly #limits: StorageLimits;
  readonly #stats: StorageStats;
  readonly #sizes = new Map<string, number>();
  readonly #writing = new Map<symbol, number>();
  /** The sum of #sizes, kept as objects come and go: a put's check must not walk every object. */
  #used = 0;
  /** The sum of #writing. */
  #writingBytes = 0;
  /** Puts in flight of keys not stored yet: each may add an object. */
  #creating = 0;
  /** One-shot calls at the store now, and those waiting for a turn. */
  #calls = 0;
  readonly #waiting: Array<() => void> = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #abort = new AbortController();
  #state: AttemptState = "open";
  /** A deletion of this prefix under way when the attempt was opened (prefix-deletions.ts): no call touches the store before it ends. */
  #deletion: Promise<void> | undefined;

  constructor(options: { store: ObjectStore; prefix: string; label: string; limits: StorageLimits; stats: StorageStats; deletion?: Promise<void> }) {
    this.#store = options.store;
    this.prefix = options.prefix;
    this.label = options.label;
    this.#limits = options.limits;
    this.#stats = options.stats;
    this.#deletion = options.deletion;
  }

  get state(): AttemptState { return this.#state; }

  /** Stores `body` under `key`; resolves with the size stored. Rejects with `storage_limit` past a limit. */
  put(key: string, body: Uint8Array | ReadableStream<Uint8Array>, options: ObjectOptions = {}): Promise<number> {
    return this.#track("store", key, async () => {
      const creates = !this.#sizes.has(key);
      const maxObjects = this.#limits.maxJobObjects ?? DEFAULT_MAX_JOB_OBJECTS;
      if (creates && this.#sizes.size + this.#creating >= maxObjects) {
        throw new EdgeError("storage_limit", `Cannot store "${key}" for job "${this.label}": the job holds ${this.#sizes.size} objects, the limit is ${maxObjects} (storageMaxJobObjects)`);
      }
      const token = Symbol(key);
      this.#writing.set(token, 0);
      if (creates) this.#creating++;
      try {
        const check = (total: number): void => this.#check(key, token, total);
        const source = body instanceof Uint8Array ? (check(body.byteLength), body) : counted(body, check, (n) => { this.#stats.bytesWritten += n; });
        const store = (): Promise<number> => this.#store.put(this.prefix + key, source, { ...options, signal: this.#abort.signal });
        const size = body instanceof Uint8Array ? await this.#turn(store) : await store();
        if (body instanceof Uint8Array) this.#stats.bytesWritten += size;
        const old = this.#sizes.get(key);
        if (old === undefined) this.#stats.objectsAlive++;
        this.#used += size - (old ?? 0);
        this.#sizes.set(key, size);
        return size;
      } finally {
        this.#writingBytes -= this.#writing.get(token) ?? 0;
        this.#writing.delete(token);
        if (creates) this.#creating--;
      }
    });
  }

  /** The object with its body stream (counted as read while it flows), or undefined. */
  get(key: string): Promise<StoredObject | undefined> {
    return this.#track("read", key, async () => {
      const found = await this.#turn(() => this.#store.get(this.prefix + key, this.#abort.signal));
      if (found === undefined) return undefined;
      const stats = this.#stats;
      return { info: { ...found.info, key }, body: counted(found.body, undefined, (n) => { stats.bytesRead += n; }) };
    });
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.#track("inspect", key, async () => {
      const info = await this.#turn(() => this.#store.head(this.prefix + key));
      return info === undefined ? undefined : { ...info, key };
    });
  }

  /** Objects whose key starts with `prefix`, sorted by key, at most MAX_LIST_KEYS. */
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.#track("list", prefix, () => this.#turn(async () => {
      const out: ObjectInfo[] = [];
      for await (const info of this.#store.list(this.prefix + prefix, { signal: this.#abort.signal })) {
        const key = info.key.slice(this.prefix.length);
        // Keys starting with "." are never a plugin's (checkStorageKey refuses them): not listed.
        if (key.startsWith(".")) continue;
        out.push({ ...info, key });
        if (out.length >= MAX_LIST_KEYS) break;
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }));
  }

  /** True when an object was there. */
  delete(key: string): Promise<boolean> {
    return this.#track("delete", key, async () => {
      const existed = await this.#turn(async () => {
        const known = this.#sizes.has(key) || (await this.#store.head(this.prefix + key)) !== undefined;
        await this.#store.delete(this.prefix + key);
        return known;
      });
      const old = this.#sizes.get(key);
      if (old !== undefined) {
        this.#sizes.delete(key);
        this.#used -= old;
        this.#stats.objectsAlive--;
      }
      return existed;
    });
  }

  /** Refuses further calls, aborts uploads in flight (a multipart upload is aborted) and waits for them. */
  async end(): Promise<void> {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#abort.abort(new EdgeError("storage_closed", `Job attempt "${this.label}" has ended`));
    // Calls waiting for a turn give up now (they see the abort), not after those ahead of them.
    for (const wake of this.#waiting.splice(0)) wake();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** The attempt's objects are gone: stop counting them as alive. */
  forget(): void {
    this.#stats.objectsAlive -= this.#sizes.size;
    this.#sizes.clear();
    this.#used = 0;
  }

  #check(key: string, token: symbol, total: number): void {
    if (total > this.#limits.maxObjectBytes) {
      throw new EdgeError("storage_limit", `Cannot store "${key}" for job "${this.label}": it is over the limit of ${this.#limits.maxObjectBytes} bytes per object`);
    }
    this.#writingBytes += total - (this.#writing.get(token) ?? 0);
    this.#writing.set(token, total);
    // The object this put replaces does not count: its bytes go when the new ones are stored.
    const used = this.#used - (this.#sizes.get(key) ?? 0) + this.#writingBytes;
    if (used > this.#limits.maxJobBytes) {
      throw new EdgeError("storage_limit", `Cannot store "${key}" for job "${this.label}": the job's objects would be over the limit of ${this.#limits.maxJobBytes} bytes`);
    }
  }

  /** Runs `work` once fewer than MAX_CONCURRENT_CALLS of this attempt's calls are at the store. */
  async #turn<T>(work: () => Promise<T>): Promise<T> {
    while (this.#calls >= MAX_CONCURRENT_CALLS) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      this.#abort.signal.throwIfAborted();
    }
    this.#abort.signal.throwIfAborted();
    this.#calls++;
    try {
      return await work();
    } finally {
      this.#calls--;
      this.#waiting.shift()?.();
    }
  }

  /**
   * Runs `work` once the deletion of this prefix under way at open() has ended: the same attempt
   * opened again while an earlier one's cleanup (or the sweeper) was deleting the prefix had its
   * objects deleted with the old ones. The attempt's end stops the wait.
   */
  async #afterDeletion<T>(work: () => Promise<T>): Promise<T> {
    if (this.#deletion !== undefined) {
      const signal = this.#abort.signal;
      let stop: (() => void) | undefined;
      await Promise.race([this.#deletion, new Promise<void>((resolve) => {
        stop = resolve;
        signal.addEventListener("abort", stop, { once: true });
      })]);
      if (stop !== undefined) signal.removeEventListener("abort", stop);
      signal.throwIfAborted();
      this.#deletion = undefined;
    }
    return work();
  }

  #track<T>(action: string, key: string, work: () => Promise<T>): Promise<T> {
    if (this.#state === "ended") return Promise.reject(new EdgeError("storage_closed", `Cannot ${action} "${key}" for job "${this.label}": the job attempt has ended`));
    const promise = this.#afterDeletion(work).catch((error: unknown) => {
      if (error instanceof EdgeError) throw error;
      if (this.#abort.signal.aborted) throw new EdgeError("storage_closed", `Cannot ${action} "${key}" for job "${this.label}": the job attempt has ended`);
      throw new EdgeError("storage_failed", `Cannot ${action} "${key}" for job "${this.label}": ${errorMessage(error)}`);
    });
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }
}

/**
 * Passes a stream through, pulling only when its reader pulls (backpressure intact), calling
 * `check` with the running total before each chunk goes on (a throw fails the stream there).
 */
function counted(body: ReadableStream<Uint8Array>, check?: (total: number) => void, onBytes?: (n: number) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let read: Awaited<ReturnType<typeof reader.read>>;
      try {
        read = await reader.read();
      } catch (error) {
        controller.error(error);
        return;
      }
      if (read.done) {
        controller.close();
        return;
      }
      const chunk = read.value;
      if (!(chunk instanceof Uint8Array)) {
        const error = new EdgeError("input_invalid", "Cannot store a stream chunk that is not a Uint8Array");
        await reader.cancel(error).catch(() => undefined);
        controller.error(error);
        return;
      }
      total += chunk.byteLength;
      try {
        check?.(total);
      } catch (error) {
        await reader.cancel(error).catch(() => undefined);
        controller.error(error);
        return;
      }
      onBytes?.(chunk.byteLength);
      controller.enqueue(chunk);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
