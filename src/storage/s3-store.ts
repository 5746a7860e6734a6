// The S3-compatible backend (AWS S3, MinIO, Ceph, R2, …) through @aws-sdk/client-s3. This module
// is only ever loaded by a dynamic import (open-store.ts), so a runner on the local backend never
// loads the SDK. Large bodies go up as multipart uploads (multipart.ts) holding one part in memory.

import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { EdgeError, errorMessage } from "../errors.ts";
import { clipWords } from "../util/clip-words.ts";
import { proxyHttpAgent, proxyHttpsAgent } from "../platform/proxy-agent.ts";
import type { ProxyEnv } from "../platform/proxy.ts";
import { childOfKey, childOfPrefix, YieldedPrefixes } from "./child-prefixes.ts";
import { ListingPages, type PageProblem } from "./listing-pages.ts";
import { keyUnder } from "./storage-keys.ts";
import { S3KeyDeletions } from "./s3-key-deletions.ts";
import { withContentMd5 } from "./delete-objects-md5.ts";
import { abortStaleUploads, uploadObject, type UploadTarget } from "./multipart.ts";
import type { DeletePrefixOptions, ListOptions, ObjectInfo, ObjectStore, PutObjectOptions, StaleUploadOptions, StoredObject } from "./object-store.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without a trailing "/" ("" for the bucket root). */
  prefix: string;
  region: string;
  /** For MinIO, a VPC endpoint or another S3-compatible store; unset means AWS's own endpoint. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Static keys; unset means the AWS default chain (environment, shared files, web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Told each secret of the credentials the default chain resolves (the secret key, a session
   * token), before the request they sign is sent: the runner masks them in everything it shows.
   */
  registerSecret?: (value: string) => void;
  /** Extra CAs (PEM) trusted for the endpoint's certificate. */
  caPem?: string;
  sse?: "AES256" | "aws:kms";
  kmsKeyId?: string;
  /** Bytes per multipart part, and the size below which one PutObject is used. */
  partSizeBytes: number;
  /**
   * A connection, or a request with no body to move (list, head, delete, an upload's start, end or
   * abort), not answered within this fails; the SDK tries it 3 times. Default 30 s. Bodies (a part,
   * a read) are bounded by their job instead: its end aborts them.
   */
  requestTimeoutMs?: number;
  /** Where the proxy variables are read; process.env by default (tests pass their own). */
  proxyEnv?: ProxyEnv;
}

/**
 * Without it a request to an endpoint that accepts connections and never answers (a frozen
 * store, a black-holed VPC endpoint) waits forever, and with it the attempt's cleanup, which runs
 * before the job's result is reported, and every later sweep (test/reliability/storage-stall.test.ts).
 */
const REQUEST_TIMEOUT_MS = 30_000;
/** Connections jobs share; the runner's upkeep (cleanup, sweeps) has its own UPKEEP_SOCKETS. */
const JOB_SOCKETS = 50;
const UPKEEP_SOCKETS = 8;
/**
 * DeleteObject requests one deletion keeps in flight on a store without DeleteObjects
 * (s3-key-deletions.ts): half the upkeep connections, so one attempt's cleanup leaves the others
 * to another attempt's cleanup and the sweeper's listings.
 */
const ONE_BY_ONE_DELETES = UPKEEP_SOCKETS / 2;
/**
 * Pages one listing may take (1,000 keys or prefixes each): far past an attempt's
 * storageMaxJobObjects, so only a store that never stops paginating reaches it. The sweeper never
 * lists more than one attempt's objects at once (sweeper.ts), so live attempts cannot push it there.
 */
const MAX_LIST_PAGES = 10_000;
const LIST_PROBLEMS: Record<PageProblem, string> = {
  too_many_pages: `more than ${MAX_LIST_PAGES} pages`,
  no_marker: "the store said the listing goes on but gave no continuation token",
  repeated_marker: "the store repeated a continuation token",
};
/**
 * Characters of a store's error message kept: it is the store's to choose (a 20 MiB <Message>
 * became a 20 MiB error, status-page lastError and warn line on every retry). Cut on a space, as
 * it is not redacted yet (clip-words.ts).
 */
const MAX_STORE_MESSAGE_CHARS = 500;
/** The SDK's tries per request (maxAttempts). */
const TRIES = 3;

export function createS3Store(options: S3StoreOptions): ObjectStore {
  return new S3ObjectStore(options);
}

class S3ObjectStore implements ObjectStore {
  readonly kind = "s3" as const;
  readonly location: string;
  /** Jobs' calls. */
  readonly #client: S3Client;
  /** Cleanup and sweeps, on agents of their own: jobs holding every job connection cannot hold them up. */
  readonly #upkeep: S3Client;
  readonly #options: S3StoreOptions;
  readonly #root: string;
  /** Per request, for those with no body to move (see S3StoreOptions.requestTimeoutMs). */
  readonly #bounded: { requestTimeout: number };
  /** DeleteObjects, or one DeleteObject per key once this store has said it lacks the former. */
  readonly #deletions: S3KeyDeletions;

  constructor(options: S3StoreOptions) {
    this.#options = options;
    this.#root = options.prefix === "" ? "" : `${options.prefix}/`;
    this.location = `s3://${options.bucket}/${this.#root}`;
    const config: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // Without these the SDK frames bodies as aws-chunked with a trailing checksum, which several
      // S3-compatible servers (s3rver among them) store verbatim: the object is silently corrupted.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: TRIES,
    };
    if (options.endpoint !== undefined) config.endpoint = options.endpoint;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    this.#bounded = { requestTimeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS };
    // Not a socket idle timeout: a plugin that reads an object slowly leaves its connection idle.
    // The agents open each connection through the forward proxy HTTPS_PROXY/HTTP_PROXY name for
    // the endpoint's host, if any (docs/operations.md, "Behind a proxy"): the SDK reads none itself.
    const proxy = { connectTimeoutMs: this.#bounded.requestTimeout, ...(options.proxyEnv === undefined ? {} : { env: options.proxyEnv }) };
    const client = (maxSockets: number): S3Client => {
      const made = new S3Client({
        ...config,
        requestHandler: {
          throwOnRequestTimeout: true,
          connectionTimeout: this.#bounded.requestTimeout,
          httpsAgent: proxyHttpsAgent({ keepAlive: true, maxSockets, ...(options.caPem === undefined ? {} : { ca: options.caPem }) }, proxy),
          httpAgent: proxyHttpAgent({ keepAlive: true, maxSockets }, proxy),
        },
      });
      if (options.credentials === undefined && options.registerSecret !== undefined) registerChainSecrets(made, options.registerSecret);
      return made;
    };
    this.#client = client(JOB_SOCKETS);
    this.#upkeep = client(UPKEEP_SOCKETS);
    this.#deletions = new S3KeyDeletions({
      batch: (keys, signal) => this.#send((o) => this.#upkeep.send(withContentMd5(new DeleteObjectsCommand({ Bucket: options.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })), o), signal),
      one: async (key, signal) => {
        try {
          await this.#send((o) => this.#upkeep.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: key }), o), signal);
        } catch (error) {
          // Gone already (a cleanup and a sweep of the same attempt): S3 answers 204, Google Cloud Storage 404.
          if (!isNotFound(error)) throw error;
        }
      },
    }, ONE_BY_ONE_DELETES);
  }

  /**
   * Sends a request with no body to move, bounded as a whole: the SDK's requestTimeout starts
   * once a socket is had, so a request queued behind busy connections waited unbounded (68 s
   * and more behind one job's 50 open reads). The deadline covers the wait and every try.
   */
  async #send<T>(request: (options: { requestTimeout: number; abortSignal: AbortSignal }) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadlineMs = this.#bounded.requestTimeout * (TRIES + 1);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), deadlineMs);
    const abortSignal = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
    try {
      return await request({ ...this.#bounded, abortSignal });
    } catch (error) {
      if (deadline.signal.aborted && signal?.aborted !== true) throw new EdgeError("storage_failed", `no answer within ${deadlineMs} ms (waiting for a connection included)`, { retryable: true });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async put(key: string, body: Uint8Array | ReadableStream<Uint8Array>, options: PutObjectOptions = {}): Promise<number> {
    const target: UploadTarget = {
      client: this.#client,
      bucket: this.#options.bucket,
      key: this.#root + key,
      partSizeBytes: this.#options.partSizeBytes,
      bounded: this.#bounded,
      extra: {
        ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
        ...(options.metadata === undefined ? {} : { Metadata: options.metadata }),
        ...(this.#options.sse === undefined ? {} : { ServerSideEncryption: this.#options.sse }),
        ...(this.#options.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.#options.kmsKeyId }),
      },
    };
    return this.#wrap("store", key, () => uploadObject(target, body, options.signal));
  }

  async get(key: string, signal?: AbortSignal): Promise<StoredObject | undefined> {
    const response = await this.#wrap("read", key, async () => {
      try {
        return await this.#client.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: this.#root + key }), signal === undefined ? {} : { abortSignal: signal });
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
    if (response === undefined) return undefined;
    const info: ObjectInfo = { key, size: response.ContentLength ?? 0, lastModified: response.LastModified?.getTime() ?? 0 };
    if (response.ContentType !== undefined && response.ContentType !== "binary/octet-stream") info.contentType = response.ContentType;
    if (response.Metadata !== undefined && Object.keys(response.Metadata).length > 0) info.metadata = response.Metadata;
    return { info, body: webStream(response.Body) };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return this.#wrap("inspect", key, async () => {
      try {
        const response = await this.#send((o) => this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#root + key }), o));
        const info: ObjectInfo = { key, size: response.ContentLength ?? 0, lastModified: response.LastModified?.getTime() ?? 0 };
        if (response.ContentType !== undefined && response.ContentType !== "binary/octet-stream") info.contentType = response.ContentType;
        if (response.Metadata !== undefined && Object.keys(response.Metadata).length > 0) info.metadata = response.Metadata;
        return info;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const full = this.#root + prefix;
    for await (const page of this.#pages(prefix, undefined, options)) {
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        // Cleanup deletes what a listing returns: a key outside the prefix (a store ignoring
        // Prefix) is refused, never deleted.
        if (!item.Key.startsWith(full)) throw new EdgeError("storage_failed", `Cannot list "${prefix}" in ${this.location}: the store answered a key outside it`);
        yield { key: item.Key.slice(this.#root.length), size: item.Size ?? 0, lastModified: item.LastModified?.getTime() ?? 0 };
      }
    }
  }

  async *children(prefix: string, options: ListOptions = {}): AsyncIterable<string> {
    const yielded = new YieldedPrefixes();
    let answered = false;
    for await (const page of this.#pages(prefix, "/", options)) {
      answered ||= (page.CommonPrefixes?.length ?? 0) + (page.Contents?.length ?? 0) > 0;
      yield* this.#childrenIn(prefix, page, yielded, options);
    }
    if (answered) return;
    // Nothing at all: the prefix is empty, or the store reports no common prefix for one holding
    // only nested keys (s3rver does so, and every key of the runner's layout is nested). One
    // listing without Delimiter tells them apart, at the cost of one request for an empty prefix.
    for await (const page of this.#pages(prefix, undefined, options)) yield* this.#childrenIn(prefix, page, yielded, options);
  }

  /**
   * The children of `prefix` one listing page names (child-prefixes.ts): its common prefixes,
   * and, for a store that ignores Delimiter and answers every key instead, the keys' first
   * segments. The sweeper deletes under what this yields: anything else is skipped and told to
   * onRefused (one such name used to fail the listing, and with it the whole sweep's walk).
   */
  *#childrenIn(prefix: string, page: ListObjectsV2CommandOutput, yielded: YieldedPrefixes, options: ListOptions): Iterable<string> {
    const full = this.#root + prefix;
    const names = [
      ...(page.CommonPrefixes ?? []).map((item) => item.Prefix === undefined ? undefined : { name: item.Prefix, child: childOfPrefix(full, item.Prefix) }),
      ...(page.Contents ?? []).map((item) => item.Key === undefined ? undefined : { name: item.Key, child: childOfKey(full, item.Key) }),
    ];
    for (const found of names) {
      if (found === undefined || found.child.state === "at_level") continue;
      if (found.child.state === "refused") options.onRefused?.(found.name);
      else if (yielded.first(found.child.prefix)) yield found.child.prefix.slice(this.#root.length);
    }
  }

  /** ListObjectsV2 pages under `prefix` (with `delimiter`, its CommonPrefixes too), checked as they come (listing-pages.ts). */
  async *#pages(prefix: string, delimiter: string | undefined, options: ListOptions): AsyncIterable<ListObjectsV2CommandOutput> {
    const client = options.upkeep === true ? this.#upkeep : this.#client;
    const pages = new ListingPages(MAX_LIST_PAGES, (problem) => new EdgeError("storage_failed", `Cannot list "${prefix}" in ${this.location}: ${LIST_PROBLEMS[problem]}`));
    let token: string | undefined;
    do {
      const page = await this.#wrap("list", prefix, () => this.#send((o) => client.send(new ListObjectsV2Command({
        Bucket: this.#options.bucket,
        Prefix: this.#root + prefix,
        ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }), o), options.signal));
      yield page;
      token = pages.next(page.IsTruncated, page.NextContinuationToken);
    } while (token !== undefined);
  }

  async delete(key: string): Promise<void> {
    await this.#wrap("delete", key, () => this.#send((o) => this.#client.send(new DeleteObjectCommand({ Bucket: this.#options.bucket, Key: this.#root + key }), o)));
  }

  async deletePrefix(prefix: string, options: DeletePrefixOptions = {}): Promise<number> {
    let count = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const keys = batch;
      batch = [];
      const failed = await this.#wrap("delete", prefix, () => this.#deletions.delete(keys, options.signal));
      if (failed.length > 0) throw new EdgeError("storage_failed", `Cannot delete ${failed.length} objects under "${prefix}": ${clipWords(`${failed[0]?.Code ?? "error"} ${failed[0]?.Message ?? ""}`, MAX_STORE_MESSAGE_CHARS)}`.trim());
      count += keys.length;
    };
    for await (const key of options.listed ?? this.#keysUnder(prefix, options.signal)) {
      batch.push(this.#root + keyUnder(prefix, key));
      if (batch.length === 1000) await flush();
    }
    await flush();
    return count;
  }

  async *#keysUnder(prefix: string, signal: AbortSignal | undefined): AsyncIterable<string> {
    for await (const info of this.list(prefix, { upkeep: true, ...(signal === undefined ? {} : { signal }) })) yield info.key;
  }

  async abortStaleUploads(prefix: string, options: StaleUploadOptions): Promise<number> {
    const send = { ...this.#bounded, ...(options.signal === undefined ? {} : { abortSignal: options.signal }) };
    return this.#wrap("abort the unfinished uploads under", prefix, () => abortStaleUploads(this.#upkeep, this.#options.bucket, this.#root + prefix, (upload) => options.stale({ ...upload, key: upload.key.slice(this.#root.length) }), send));
  }

  async close(): Promise<void> {
    this.#client.destroy();
    this.#upkeep.destroy();
  }

  /** Backend errors become `storage_failed` naming the action and key; the SDK's message carries no credential. */
  async #wrap<T>(action: string, key: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof EdgeError) throw error;
      if ((error as { name?: string }).name === "AbortError") throw error;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = clipWords(String((error as { name?: string }).name ?? "Error"), 100);
      throw new EdgeError("storage_failed", `Cannot ${action} "${key}" in ${this.location}: ${name}${status === undefined ? "" : ` (HTTP ${status})`}: ${clipWords(errorMessage(error), MAX_STORE_MESSAGE_CHARS)}`, { retryable: status === undefined || status >= 500 });
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

/** The SDK's body (a Node Readable, or a web stream on some runtimes) as a web ReadableStream that pulls on demand. */
function webStream(body: unknown): ReadableStream<Uint8Array> {
  if (body === undefined || body === null) return new ReadableStream({ start: (c) => c.close() });
  if (body instanceof ReadableStream) return body as ReadableStream<Uint8Array>;
  const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
      (body as { destroy?: () => void }).destroy?.();
    },
  }, { highWaterMark: 0 });
}

/**
 * The default chain's credentials (environment, shared files, web identity, instance role) are
 * the SDK's to find: each request asks the client's memoized provider, the same one the signer
 * uses, and registers what it returns (a refreshed session token too).
 */
function registerChainSecrets(client: S3Client, register: (value: string) => void): void {
  client.middlewareStack.add((next) => async (args) => {
    const identity = await client.config.credentials();
    register(identity.secretAccessKey);
    if (identity.sessionToken !== undefined) register(identity.sessionToken);
    return next(args);
  }, { step: "build", name: "registerChainSecretsForRedaction" });
}
