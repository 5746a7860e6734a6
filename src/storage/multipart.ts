// One upload to S3: a body that fits in one part goes up as one PutObject; anything larger as a
// multipart upload that holds one part in memory at a time, whatever the object's size. A failed
// or aborted multipart upload is aborted on the server, so no invisible parts are left billing.

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ListingPages } from "./listing-pages.ts";
import type { UploadInfo } from "./object-store.ts";

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  partSizeBytes: number;
  /** ContentType, Metadata, ServerSideEncryption, SSEKMSKeyId. */
  extra: Record<string, unknown>;
  /** The bound of a request without a body to move (start, end, abort); see S3StoreOptions.requestTimeoutMs. */
  bounded?: { requestTimeout: number };
}

/** Pages of unfinished uploads one sweep lists (1,000 each) before it gives up. */
const MAX_UPLOAD_PAGES = 1_000;

/** S3 allows at most 10,000 parts: past that the object is too large for this part size. */
const MAX_PARTS = 10_000;

export async function uploadObject(target: UploadTarget, body: Uint8Array | ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<number> {
  const send = signal === undefined ? {} : { abortSignal: signal };
  if (body instanceof Uint8Array && body.byteLength <= target.partSizeBytes) {
    await target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: body, ContentLength: body.byteLength, ...target.extra }), send);
    return body.byteLength;
  }
  const parts = new PartReader(body, target.partSizeBytes);
  const first = await parts.next();
  const second = first.full ? await parts.next() : { bytes: new Uint8Array(0), full: false };
  if (second.bytes.byteLength === 0) {
    signal?.throwIfAborted();
    await target.client.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: first.bytes, ContentLength: first.bytes.byteLength, ...target.extra }), send);
    return first.bytes.byteLength;
  }
  const created = await target.client.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, ...target.extra }), { ...send, ...target.bounded });
  const uploadId = created.UploadId as string;
  const done: Array<{ ETag: string; PartNumber: number }> = [];
  let size = 0;
  try {
    let part: { bytes: Uint8Array; full: boolean } | undefined = first;
    let next: { bytes: Uint8Array; full: boolean } | undefined = second;
    while (part !== undefined && part.bytes.byteLength > 0) {
      const number = done.length + 1;
      if (number > MAX_PARTS) throw new Error(`the object needs more than ${MAX_PARTS} parts of ${target.partSizeBytes} bytes`);
      signal?.throwIfAborted();
      const uploaded = await target.client.send(new UploadPartCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, PartNumber: number, Body: part.bytes, ContentLength: part.bytes.byteLength }), send);
      done.push({ ETag: uploaded.ETag as string, PartNumber: number });
      size += part.bytes.byteLength;
      // The part just sent is released here; at most one part plus the one being read is held.
      part = next;
      next = part !== undefined && part.full ? await parts.next() : undefined;
    }
    signal?.throwIfAborted();
    await target.client.send(new CompleteMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId, MultipartUpload: { Parts: done } }), { ...send, ...target.bounded });
    return size;
  } catch (error) {
    await parts.cancel(error);
    // Not with the caller's signal: the abort must reach the server even when the job was aborted.
    await target.client.send(new AbortMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, UploadId: uploadId }), target.bounded ?? {}).catch(() => undefined);
    throw error;
  }
}

/**
 * Cuts a body into parts of exactly `size` bytes (the last may be shorter). Two buffers are used
 * in turn: the upload holds the part being sent and reads the next one only after the send has
 * finished, so a buffer is refilled only once its part is done with; memory is two parts, with
 * no garbage per part.
 */
class PartReader {
  readonly #buffers: Uint8Array[] = [];
  #turn = 0;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #bytes: Uint8Array | undefined;
  readonly #size: number;
  #offset = 0;
  #carry: Uint8Array | undefined;
  #ended = false;

  constructor(body: Uint8Array | ReadableStream<Uint8Array>, size: number) {
    this.#size = size;
    if (body instanceof Uint8Array) this.#bytes = body;
    else this.#reader = body.getReader();
  }

  /** The next part; `full` is false for the last one (shorter than the part size, possibly empty). */
  async next(): Promise<{ bytes: Uint8Array; full: boolean }> {
    if (this.#bytes !== undefined) {
      const part = this.#bytes.subarray(this.#offset, this.#offset + this.#size);
      this.#offset += part.byteLength;
      return { bytes: part, full: part.byteLength === this.#size && this.#offset < this.#bytes.byteLength };
    }
    const slot = this.#turn++ % 2;
    const buffer = (this.#buffers[slot] ??= new Uint8Array(this.#size));
    let filled = 0;
    while (filled < this.#size) {
      let chunk = this.#carry;
      this.#carry = undefined;
      if (chunk === undefined) {
        if (this.#ended) break;
        const read = await (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
        if (read.done) {
          this.#ended = true;
          break;
        }
        chunk = read.value;
      }
      const take = Math.min(chunk.byteLength, this.#size - filled);
      buffer.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.byteLength) this.#carry = chunk.subarray(take);
    }
    return { bytes: filled === this.#size ? buffer : buffer.subarray(0, filled), full: filled === this.#size };
  }

  async cancel(reason: unknown): Promise<void> {
    await this.#reader?.cancel(reason).catch(() => undefined);
  }
}

/**
 * Aborts the multipart uploads under `prefix` that `stale` picks: what a crashed process left
 * half-uploaded, invisible in listings but billed. `stale` is given each upload's Initiated date,
 * or 0 when the store lists none: the caller dates such an upload itself (an undated upload
 * counted as ancient, aborted at the first sweep whatever the grace period). Resolves with how
 * many were aborted; a store that cannot list uploads (s3rver answers NotImplemented) has none.
 */
export async function abortStaleUploads(client: S3Client, bucket: string, prefix: string, stale: (upload: UploadInfo) => boolean, bounded: { requestTimeout?: number; abortSignal?: AbortSignal } = {}): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  const pages = new ListingPages(MAX_UPLOAD_PAGES, (problem) => new Error(problem === "too_many_pages" ? `more than ${MAX_UPLOAD_PAGES} pages of unfinished uploads under "${prefix}"`
    : problem === "no_marker" ? `the store said the list of unfinished uploads under "${prefix}" goes on but gave no marker`
    : `the store repeated a marker listing unfinished uploads under "${prefix}"`));
  for (;;) {
    let page;
    try {
      page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }), ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }) }), bounded);
    } catch (error) {
      if ((error as { name?: string }).name === "NotImplemented") return aborted;
      throw error;
    }
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined) continue;
      if (!stale({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated?.getTime() ?? 0 })) continue;
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }), bounded);
      aborted++;
    }
    const marker = pages.next(page.IsTruncated, page.NextKeyMarker === undefined || page.NextKeyMarker === "" ? undefined : `${page.NextKeyMarker}\n${page.NextUploadIdMarker ?? ""}`);
    if (marker === undefined) return aborted;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}
