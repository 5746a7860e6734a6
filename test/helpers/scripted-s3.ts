// A scripted S3 endpoint for the sweep and deletion tests: the test says what each object listing
// answers (and, if it wants, what DeleteObjects and DeleteObject answer); the server records the
// keys a DeleteObjects request names, the keys deleted one by one and the uploads aborted, and
// lists the unfinished uploads the test gives (none unless told). Bun.serve on 127.0.0.1, port 0.

import type { ObjectStore } from "../../src/storage/object-store.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";

/** One ListObjectsV2 request: its prefix, and whether it asked for common prefixes (Delimiter "/"). */
export interface ListRequest {
  prefix: string;
  delimited: boolean;
}

export interface ScriptedS3Options {
  /**
   * A listing's answer: what goes inside one complete (not truncated) ListBucketResult page, from
   * prefixes() and contents(); or a Response sent as it is (an error, a page that never ends).
   */
  list(request: ListRequest): string | Response;
  /** The `<Upload>` elements the uploads' listing answers (none when not given). */
  uploads?(): string;
  /** A DeleteObjects request's answer instead of deleting `keys` (a refusal); undefined deletes them. */
  deleteBatch?(keys: string[], request: { headers: Headers; body: string }): Response | undefined;
  /** A DeleteObject request's answer instead of 204 (awaited: a test may hold it open); undefined deletes the key. */
  deleteOne?(key: string): Promise<Response | undefined> | Response | undefined;
}

export interface ScriptedS3 {
  /** Every key a DeleteObjects request named, in order (not those deleteBatch refused). */
  readonly deleted: string[];
  /** DeleteObjects requests received, refused ones included. */
  readonly batchRequests: () => number;
  /** Every key a DeleteObject request deleted (its answer a success), in the order answered. */
  readonly deletedOneByOne: string[];
  /** The most DeleteObject requests open at once. */
  readonly mostOneByOneAtOnce: () => number;
  /** Every upload id an AbortMultipartUpload request named, in order. */
  readonly aborted: string[];
  /** An S3 store on this endpoint: bucket "bkt", key prefix "runs". */
  store(): ObjectStore;
  stop(): Promise<void>;
}

/** An S3 answer: the XML declaration, then `body`. */
export const xml = (body: string): Response => new Response(`<?xml version="1.0" encoding="UTF-8"?>${body}`);

/** Common prefixes of a Delimiter listing. */
export const prefixes = (...names: string[]): string => names.map((p) => `<CommonPrefixes><Prefix>${p}</Prefix></CommonPrefixes>`).join("");

/** One object of a listing, one byte, last modified long ago (2020). */
export const contents = (key: string): string => `<Contents><Key>${key}</Key><LastModified>2020-01-01T00:00:00.000Z</LastModified><Size>1</Size></Contents>`;

/** One object of a listing with no LastModified, as some stores answer. */
export const undatedContents = (key: string): string => `<Contents><Key>${key}</Key><Size>1</Size></Contents>`;

export function scriptedS3(options: ScriptedS3Options): ScriptedS3 {
  const deleted: string[] = [];
  const aborted: string[] = [];
  const deletedOneByOne: string[] = [];
  let batchRequests = 0;
  let oneByOneOpen = 0;
  let mostOneByOneAtOnce = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === "DELETE" && url.searchParams.has("uploadId")) {
        aborted.push(url.searchParams.get("uploadId") ?? "");
        return new Response(null, { status: 204 });
      }
      if (request.method === "DELETE") {
        // Path style: /bkt/<key>.
        const key = decodeURIComponent(url.pathname.replace(/^\/bkt\//, ""));
        oneByOneOpen++;
        mostOneByOneAtOnce = Math.max(mostOneByOneAtOnce, oneByOneOpen);
        try {
          const answer = await options.deleteOne?.(key);
          if (answer !== undefined) return answer;
          deletedOneByOne.push(key);
          return new Response(null, { status: 204 });
        } finally {
          oneByOneOpen--;
        }
      }
      if (url.searchParams.has("uploads")) return xml(`<ListMultipartUploadsResult><Bucket>bkt</Bucket><IsTruncated>false</IsTruncated>${options.uploads?.() ?? ""}</ListMultipartUploadsResult>`);
      if (request.method === "POST" && url.searchParams.has("delete")) {
        batchRequests++;
        const body = await request.text();
        const keys = [...body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!);
        const refusal = options.deleteBatch?.(keys, { headers: request.headers, body });
        if (refusal !== undefined) return refusal;
        deleted.push(...keys);
        return xml("<DeleteResult></DeleteResult>");
      }
      const answer = options.list({ prefix: url.searchParams.get("prefix") ?? "", delimited: url.searchParams.get("delimiter") === "/" });
      return answer instanceof Response ? answer : xml(`<ListBucketResult><IsTruncated>false</IsTruncated>${answer}</ListBucketResult>`);
    },
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  return {
    deleted,
    aborted,
    deletedOneByOne,
    batchRequests: () => batchRequests,
    mostOneByOneAtOnce: () => mostOneByOneAtOnce,
    store: () => createS3Store({ bucket: "bkt", prefix: "runs", region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "a", secretAccessKey: "b" }, partSizeBytes: 8 * 1024 * 1024 }),
    stop: async () => void (await server.stop(true)),
  };
}
