// Deterministic test bytes, whole or streamed, with no imports: the storage tests and a plugin
// fixture (which runs in a worker) both use them.

/** Deterministic bytes that differ at every offset modulo 251 (a prime, so chunk boundaries show). */
export function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i + seed) % 251;
  return out;
}

/** A stream of `size` pattern bytes in `chunk`-sized pieces, generated as it is read. */
export function patternStream(size: number, chunk = 64 * 1024, seed = 0): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= size) return controller.close();
      const n = Math.min(chunk, size - at);
      const bytes = new Uint8Array(n);
      for (let i = 0; i < n; i++) bytes[i] = (at + i + seed) % 251;
      at += n;
      controller.enqueue(bytes);
    },
  }, { highWaterMark: 0 });
}
