// Passes an artifact's bytes through to its sink while counting and hashing them, so the size
// limit holds at the byte that crosses it and the digest in the result is the runner's own.

import { createHash } from "node:crypto";
import { EdgeError } from "../errors.ts";

export interface Digesting {
  body: ReadableStream<Uint8Array>;
  /** Size and hex SHA-256, once the body has been read to its end. */
  done(): { size: number; sha256: string };
}

export function digesting(source: ReadableStream<Uint8Array>, maxBytes: number, label: string): Digesting {
  const reader = source.getReader();
  const hash = createHash("sha256");
  let size = 0;
  let ended = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          ended = true;
          controller.close();
          return;
        }
        size += value.byteLength;
        if (size > maxBytes) throw new EdgeError("storage_limit", `Cannot keep artifact "${label}": it is over the limit of ${maxBytes} bytes`);
        hash.update(value);
        controller.enqueue(value);
      } catch (error) {
        await reader.cancel(error).catch(() => undefined);
        controller.error(error);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return {
    body,
    done() {
      if (!ended) throw new EdgeError("internal", `Cannot record artifact "${label}": its body was not read to the end`);
      return { size, sha256: hash.digest("hex") };
    },
  };
}
