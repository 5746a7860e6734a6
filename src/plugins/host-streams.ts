// Streams across the worker boundary, host side. Worker messages are copied, so a 1 GiB object
// crosses as chunks of at most CHUNK_BYTES, each one a call the host answers only when the
// consumer can take more (a write), or with the next chunk when the plugin asks (a read): memory
// stays bounded by the chunk size on both sides, on every runtime and in process isolation.

import { EdgeError } from "../errors.ts";
import { concatBytes } from "../util/concat-bytes.ts";

/** Largest chunk one stream call carries. */
export const CHUNK_BYTES = 1024 * 1024;
/** What a write may queue on the host before the plugin's next write waits. */
const WRITE_QUEUE_BYTES = 2 * CHUNK_BYTES;
/** A read gathers chunks until it has this much, so small backend chunks do not cost a round trip each. */
const READ_GATHER_BYTES = 256 * 1024;

/** A stream the plugin writes into; `consume` reads its body (a storage put, an artifact upload). */
export class HostWrite<R> {
  readonly result: Promise<R>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(consume: (body: ReadableStream<Uint8Array>) => Promise<R>) {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => { this.#controller = controller; },
      pull: () => { this.#wake?.(); },
      cancel: () => this.#stop(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: WRITE_QUEUE_BYTES }));
    this.result = consume(body);
    // A consumer that gave up (an error, a limit) must wake a write waiting for room.
    // Observed through write()/end(); an abort must not become an unhandled rejection.
    this.result.then(() => this.#stop(), () => this.#stop());
  }

  /** Queues one chunk; resolves when the consumer has room for more, rejects with its error. */
  async write(chunk: unknown): Promise<void> {
    if (!(chunk instanceof Uint8Array) || chunk.byteLength > CHUNK_BYTES) throw new EdgeError("input_invalid", `Cannot write a stream chunk: it must be a Uint8Array of at most ${CHUNK_BYTES} bytes`);
    if (this.#closed) return this.#failure();
    this.#controller.enqueue(chunk);
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#closed) {
      await new Promise<void>((resolve) => { this.#wake = resolve; });
      this.#wake = undefined;
    }
    if (this.#closed) return this.#failure();
  }

  /** Ends the body and resolves with the consumer's result. */
  async end(): Promise<R> {
    if (!this.#closed) {
      this.#closed = true;
      this.#controller.close();
    }
    return this.result;
  }

  /** Fails the body with `reason`; the consumer aborts (a multipart upload is aborted). */
  abort(reason: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#controller.error(reason);
  }

  #stop(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async #failure(): Promise<never> {
    await this.result;
    throw new EdgeError("storage_closed", "Cannot write to a stream that has ended");
  }
}

/** A stream the plugin reads from, one gathered chunk per call. */
export class HostRead {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #carry: Uint8Array | undefined;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next chunk of at most CHUNK_BYTES, or null at the end. */
  async read(): Promise<Uint8Array | null> {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (size < READ_GATHER_BYTES) {
      let chunk = this.#carry;
      this.#carry = undefined;
      if (chunk === undefined) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        chunk = value;
      }
      if (size + chunk.byteLength > CHUNK_BYTES) {
        this.#carry = chunk.subarray(CHUNK_BYTES - size);
        chunk = chunk.subarray(0, CHUNK_BYTES - size);
      }
      parts.push(chunk);
      size += chunk.byteLength;
    }
    return parts.length === 0 ? null : concatBytes(parts);
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}
