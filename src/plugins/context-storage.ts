// The worker's side of ctx.storage and ctx.artifacts: every call goes to the host, bodies as
// streams of chunks (host-streams.ts explains the exchange). A write sends at most CHUNK_BYTES per
// call and waits for the answer before the next, so a plugin's stream is read only as fast as the
// backend takes it; a read asks for the next chunk only when the plugin's reader pulls.

import type { ActionArtifacts, ActionStorage, ArtifactInfo, ObjectOptions, StorageData, StoredObjectInfo } from "./sdk.ts";
import { concatBytes } from "../util/concat-bytes.ts";
import type { HostCall } from "./worker-protocol.ts";

/** Must equal the host's CHUNK_BYTES (host-streams.ts); kept here so the worker does not load host code. */
const CHUNK_BYTES = 1024 * 1024;

type Call = (request: HostCall) => Promise<unknown>;

export function contextStorage(call: Call): ActionStorage {
  const getStream = async (key: string): Promise<{ info: StoredObjectInfo; body: ReadableStream<Uint8Array> } | undefined> => {
    const opened = (await call({ op: "stream.read_open", key })) as { stream: number; info: StoredObjectInfo } | undefined;
    if (opened === undefined) return undefined;
    const { stream } = opened;
    let ended = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let chunk: Uint8Array | null;
        try {
          chunk = (await call({ op: "stream.read", stream })) as Uint8Array | null;
        } catch (error) {
          // No read_end: a read the host failed is one it dropped (host-calls.ts stream.read), and
          // a call refused before it reached the host is one of an ended run, whose streams the
          // host closed. The read_end sent here was a host call answered with nothing.
          ended = true;
          throw error;
        }
        if (chunk === null) {
          ended = true;
          controller.close();
        } else {
          controller.enqueue(chunk);
        }
      },
      async cancel() {
        if (!ended) await call({ op: "stream.read_end", stream }).catch(() => undefined);
      },
    }, { highWaterMark: 0 });
    return { info: opened.info, body };
  };
  const get = async (key: string): Promise<Uint8Array | undefined> => {
    const found = await getStream(key);
    return found === undefined ? undefined : readAll(found.body);
  };
  return {
    async put(key: string, data: StorageData, options?: ObjectOptions): Promise<number> {
      const body = toBody(data, `Cannot store "${String(key)}"`);
      if (body instanceof Uint8Array && body.byteLength <= CHUNK_BYTES) return (await call({ op: "storage.put", key, data: body, ...optionsOf(options) })) as number;
      return (await upload(call, "storage", key, body, options)) as number;
    },
    get,
    async getText(key: string): Promise<string | undefined> {
      const bytes = await get(key);
      return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
    },
    getStream,
    async head(key: string): Promise<StoredObjectInfo | undefined> {
      return (await call({ op: "storage.head", key })) as StoredObjectInfo | undefined;
    },
    async delete(key: string): Promise<boolean> {
      return (await call({ op: "storage.delete", key })) as boolean;
    },
    async list(prefix = ""): Promise<string[]> {
      return (await call({ op: "storage.list", prefix })) as string[];
    },
  };
}

export function contextArtifacts(call: Call, maxBytes: number): ActionArtifacts {
  return {
    maxBytes,
    async put(name: string, data: StorageData, options?: { contentType?: string }): Promise<ArtifactInfo> {
      const body = toBody(data, `Cannot keep artifact "${String(name)}"`);
      return (await upload(call, "artifact", name, body, options)) as ArtifactInfo;
    },
  };
}

/** Opens a write stream on the host, sends the body in chunks, and ends it; abandons it on a failure. */
async function upload(call: Call, target: "storage" | "artifact", name: string, body: Uint8Array | ReadableStream<Uint8Array>, options: ObjectOptions | undefined): Promise<unknown> {
  const { stream } = (await call({ op: "stream.write_open", target, name, ...optionsOf(options) })) as { stream: number };
  try {
    for await (const chunk of chunks(body)) await call({ op: "stream.write", stream, chunk });
  } catch (error) {
    await call({ op: "stream.write_end", stream, abort: error instanceof Error ? error.message : String(error) }).catch(() => undefined);
    if (body instanceof ReadableStream) await body.cancel(error).catch(() => undefined);
    throw error;
  }
  return call({ op: "stream.write_end", stream });
}

/** The body as chunks of at most CHUNK_BYTES; small stream chunks are gathered so each call carries a useful amount. */
async function* chunks(body: Uint8Array | ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    for (let at = 0; at < body.byteLength; at += CHUNK_BYTES) yield body.subarray(at, Math.min(body.byteLength, at + CHUNK_BYTES));
    return;
  }
  const reader = body.getReader();
  let gathered = new Uint8Array(CHUNK_BYTES);
  let filled = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) throw new TypeError("Cannot store a stream chunk that is not a Uint8Array");
      let at = 0;
      while (at < value.byteLength) {
        const take = Math.min(value.byteLength - at, CHUNK_BYTES - filled);
        gathered.set(value.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === CHUNK_BYTES) {
          yield gathered;
          // The message was copied when it was posted, but a fresh buffer keeps that from mattering.
          gathered = new Uint8Array(CHUNK_BYTES);
          filled = 0;
        }
      }
    }
    if (filled > 0) yield gathered.subarray(0, filled);
  } catch (error) {
    await reader.cancel(error).catch(() => undefined);
    throw error;
  } finally {
    reader.releaseLock();
  }
}

function toBody(data: StorageData, what: string): Uint8Array | ReadableStream<Uint8Array> {
  if (typeof data === "string") return new TextEncoder().encode(data);
  if (data instanceof Uint8Array || data instanceof ReadableStream) return data;
  throw new TypeError(`${what}: data must be a string, a Uint8Array or a ReadableStream of Uint8Array`);
}

function optionsOf(options: ObjectOptions | undefined): { options?: ObjectOptions } {
  if (options === undefined) return {};
  // Plain data only: what crosses must be structured-cloneable, and checked on the host.
  const out: ObjectOptions = {};
  if (options.contentType !== undefined) out.contentType = options.contentType;
  if (options.metadata !== undefined) out.metadata = { ...options.metadata };
  return { options: out };
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of body as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  return parts.length === 0 ? new Uint8Array(0) : concatBytes(parts);
}
