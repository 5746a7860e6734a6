// The seam between job storage and where bytes live: a flat key space of objects (the local
// directory backend, or an S3-compatible bucket). Keys here are full keys below the backend's own
// root (`<runnerId>/<jobId>/<attempt>/<key>`); limits, scoping and accounting live above
// (attempt-storage.ts), so a backend only moves bytes.

import { concatBytes } from "../util/concat-bytes.ts";

export type StorageBackendKind = "local" | "s3";

export interface ObjectInfo {
  key: string;
  size: number;
  /** Milliseconds since the epoch, 0 when the store gave none; the sweeper's grace is measured from it. */
  lastModified: number;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PutObjectOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Aborts the upload; a multipart upload in progress is aborted on the server too. */
  signal?: AbortSignal;
}

export interface ListOptions {
  /** Stops the listing (the attempt ended). */
  signal?: AbortSignal;
  /**
   * The runner's own upkeep (cleanup, the sweeper), not a job's call: on S3 it goes over
   * connections of its own, so jobs holding every connection cannot hold up a job's cleanup.
   */
  upkeep?: boolean;
  /**
   * children() only: told each name the store answered that is not one plain segment below the
   * prefix (outside it, more than one segment, an empty, "." or ".." segment). Such a name is
   * skipped, never yielded, and the listing goes on.
   */
  onRefused?(name: string): void;
}

export interface DeletePrefixOptions {
  /**
   * The keys under the prefix the caller has just listed (the sweeper, which lists an attempt to
   * date it): they are deleted without listing the prefix again, and an object written after that
   * listing is left (a later sweep finds it).
   */
  listed?: readonly string[];
  /** Stops the deletion (the runner stops during a sweep): what is left is for a later sweep. */
  signal?: AbortSignal;
}

/** An unfinished multipart upload as the store lists it. */
export interface UploadInfo {
  key: string;
  uploadId: string;
  /** When it began, epoch ms; 0 when the store gave none (the sweeper dates it itself). */
  initiated: number;
}

export interface StaleUploadOptions {
  /** True for an upload to abort (old enough, not a running attempt's). */
  stale(upload: UploadInfo): boolean;
  /** Stops listing and aborting (the runner stops during a sweep). */
  signal?: AbortSignal;
}

export interface StoredObject {
  info: ObjectInfo;
  /** The object's bytes; cancel it to stop reading early. */
  body: ReadableStream<Uint8Array>;
}

export interface ObjectStore {
  readonly kind: StorageBackendKind;
  /** Where the bytes go, for the status page: a directory, or `s3://bucket/prefix` (never a credential). */
  readonly location: string;
  /** Stores `body` under `key`, replacing any object there; resolves with the size stored. */
  put(key: string, body: Uint8Array | ReadableStream<Uint8Array>, options?: PutObjectOptions): Promise<number>;
  /** The object, or undefined when there is none. */
  get(key: string, signal?: AbortSignal): Promise<StoredObject | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in no particular order; paginated underneath. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /**
   * The prefixes one level below `prefix` (which ends in "/"): `<prefix><segment>/` for each
   * segment with something under it, in no particular order, paginated underneath. The sweeper
   * walks runner, job and attempt with it, so no listing it makes holds more than one attempt.
   */
  children(prefix: string, options?: ListOptions): AsyncIterable<string>;
  /** Deletes one object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Deletes every object under `prefix` (or the keys `options.listed` names); resolves with how
   * many were deleted. The local backend still removes a prefix ending in "/" whole.
   */
  deletePrefix(prefix: string, options?: DeletePrefixOptions): Promise<number>;
  /**
   * Aborts the unfinished multipart uploads under `prefix` that `options.stale` picks; resolves
   * with how many. Only backends with such uploads (S3) have it.
   */
  abortStaleUploads?(prefix: string, options: StaleUploadOptions): Promise<number>;
  /**
   * What a killed process left under `prefix` that `list` does not show, dated by when it was
   * last written: a partial write's temp file, a metadata file without its object, an empty
   * directory. Keys name where it lies (`<dir>/<file name>`, or `<dir>/` for an empty directory),
   * so the sweeper can tell which attempt it belongs to. Only the local backend has such things.
   */
  leftovers?(prefix: string): AsyncIterable<{ key: string; lastModified: number }>;
  /** Releases connections and files. */
  close(): Promise<void>;
}

/** Reads a whole stream into one array; callers bound the size first. */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks);
}

/** A stream of `bytes`, in chunks of at most `chunkBytes` (views, not copies). */
export function bytesStream(bytes: Uint8Array, chunkBytes = 1024 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(bytes.byteLength, at + chunkBytes);
      controller.enqueue(bytes.subarray(at, end));
      at = end;
    },
  });
}
