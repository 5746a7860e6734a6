// The plugin the storage bench runs: moves a generated stream through ctx.storage and back,
// timing each direction, and a floor that generates and consumes the same bytes without storage.

import { definePlugin } from "../../src/plugins/sdk.ts";

const CHUNK = 64 * 1024;

function generated(size: number): ReadableStream<Uint8Array> {
  let at = 0;
  const template = new Uint8Array(CHUNK);
  for (let i = 0; i < CHUNK; i++) template[i] = (i * 7) % 256;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= size) return controller.close();
      const n = Math.min(CHUNK, size - at);
      at += n;
      // A fresh chunk each time, as a real producer (a file, a socket) hands over.
      controller.enqueue(template.slice(0, n));
    },
  }, { highWaterMark: 0 });
}

async function drain(body: ReadableStream<Uint8Array>): Promise<number> {
  let size = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) size += chunk.byteLength;
  return size;
}

export default definePlugin({
  name: "storage-bench",
  version: "0.0.1",
  actions: {
    floor: async (input) => {
      const size = Number((input as { size: number }).size);
      const started = performance.now();
      const read = await drain(generated(size));
      return { read, ms: performance.now() - started };
    },
    roundTrip: async (input, ctx) => {
      const size = Number((input as { size: number }).size);
      const upStart = performance.now();
      const stored = await ctx.storage.put("bench/blob", generated(size));
      const upMs = performance.now() - upStart;
      const downStart = performance.now();
      const found = await ctx.storage.getStream("bench/blob");
      const read = found === undefined ? 0 : await drain(found.body);
      return { stored, read, upMs, downMs: performance.now() - downStart };
    },
  },
});
