// Reads a body into memory with a byte cap: the cap is checked per chunk, so an oversized or
// endless body is cut off as soon as it passes the limit instead of filling memory first.

import { concatBytes } from "./concat-bytes.ts";

export interface ReadLimitedOptions {
  maxBytes: number;
  /** Called (and must throw) as soon as more than `maxBytes` arrived. */
  tooLarge(received: number): never;
  /** Turns a read that broke off (connection lost) into the caller's error. Default: rethrow. */
  broken?(error: unknown, received: number): never;
}

export async function readLimited(body: ReadableStream<Uint8Array> | null | undefined, options: ReadLimitedOptions): Promise<Uint8Array> {
  const reader = body?.getReader();
  if (reader === undefined) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (error) {
        if (options.broken !== undefined) options.broken(error, total);
        throw error;
      }
      if (result.done) break;
      total += result.value.byteLength;
      if (total > options.maxBytes) options.tooLarge(total);
      chunks.push(result.value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  return chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks);
}

/** The body as UTF-8 text, read through readLimited (a lone or cut sequence becomes U+FFFD). */
export async function readLimitedText(body: ReadableStream<Uint8Array> | null | undefined, options: ReadLimitedOptions): Promise<string> {
  return new TextDecoder().decode(await readLimited(body, options));
}
