// The content codings an answer on the Node proxy path is decoded from, as Node's fetch (undici)
// decodes them: gzip and x-gzip, deflate (zlib-wrapped or raw, told by the first byte), br, in
// the reverse of the order listed ("gzip, br" is br, then gzip), at most five. Each decoder
// flushes what it has at the end instead of failing on a short stream (an empty or truncated
// gzip answer reads as what came, as fetch has it). Imported on Node only: it loads node:zlib.

import { Transform, type TransformCallback } from "node:stream";
import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw, type ZlibOptions } from "node:zlib";

/** undici's cap: a longer list is refused, not decoded (each coding is a decoder to run). */
const MAX_CODINGS = 5;
const ZLIB: ZlibOptions = { flush: constants.Z_SYNC_FLUSH, finishFlush: constants.Z_SYNC_FLUSH };

/**
 * The decoders for a Content-Encoding header, first to run first; none where it names none or a
 * coding fetch does not decode (the body is then handed back as sent, as fetch does).
 * Throws when it lists more than five codings.
 */
export function contentDecoders(header: string | undefined): Transform[] {
  const codings = (header ?? "").toLowerCase().split(",").map((coding) => coding.trim()).filter((coding) => coding !== "");
  if (codings.length > MAX_CODINGS) throw new Error(`too many content-encodings in response: ${codings.length}, maximum allowed is ${MAX_CODINGS}`);
  const decoders: Transform[] = [];
  for (const coding of codings.reverse()) {
    const decoder = decoderOf(coding);
    if (decoder === undefined) {
      for (const made of decoders) made.destroy();
      return [];
    }
    decoders.push(decoder);
  }
  return decoders;
}

function decoderOf(coding: string): Transform | undefined {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return createGunzip(ZLIB);
    case "deflate":
      return new DeflateDecoder();
    case "br":
      return createBrotliDecompress({ flush: constants.BROTLI_OPERATION_FLUSH, finishFlush: constants.BROTLI_OPERATION_FLUSH });
    default:
      return undefined;
  }
}

/** "deflate" as servers send it: zlib-wrapped (RFC 1950) or raw (RFC 1951), told by the first byte. */
class DeflateDecoder extends Transform {
  #inner: Transform | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inner === undefined) {
      if (chunk.length === 0) return callback();
      // A zlib header's low nibble is 8 (deflate); raw deflate's first byte never reads so.
      const inner = ((chunk[0] ?? 0) & 0x0f) === 0x08 ? createInflate(ZLIB) : createInflateRaw(ZLIB);
      inner.on("data", (data: Buffer) => this.push(data));
      inner.on("error", (error) => this.destroy(error));
      this.#inner = inner;
    }
    this.#inner.write(chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    const inner = this.#inner;
    if (inner === undefined) return callback();
    inner.once("end", () => callback());
    inner.end();
    inner.resume();
  }
}
