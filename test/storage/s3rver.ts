// A real S3-protocol server for the storage tests: s3rver (npm) on 127.0.0.1, port 0, with its
// own temp directory and bucket. Tested against s3rver only, not MinIO or AWS (docs/testing.md).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import FilesystemStore, { type ListOptions, type ListResult } from "s3rver/lib/stores/filesystem.js";

// s3rver's Delimiter listing does not descend below a common prefix, so `a/` is only reported
// when an object lies directly under it (`a/k`), never for `a/1/k` alone; AWS S3, MinIO and the
// others report it. The sweeper finds attempts with such listings (sweeper.ts), so the fixture
// answers them as S3 does: from the whole listing under the prefix (small here), never truncated.
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function listObjectsAsS3(bucket: string, options: ListOptions): Promise<ListResult> {
  const delimiter = options.delimiter;
  if (delimiter === undefined || delimiter === "") return listObjects.call(this, bucket, options);
  const all = await listObjects.call(this, bucket, { ...options, delimiter: undefined, maxKeys: Infinity, startAfter: undefined });
  const prefix = options.prefix ?? "";
  const commonPrefixes = new Set<string>();
  const objects: ListResult["objects"] = [];
  for (const object of all.objects) {
    const at = object.key.indexOf(delimiter, prefix.length);
    if (at === -1) objects.push(object);
    else commonPrefixes.add(object.key.slice(0, at + delimiter.length));
  }
  return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
};

/**
 * How the server answers a Delimiter listing: as S3 does (the default, above); as s3rver itself
 * does (no common prefix for a prefix holding only nested keys); or ignoring Delimiter as some
 * S3-compatible stores do (every key under the prefix, no common prefixes).
 */
export type DelimiterListing = "as-s3" | "s3rver" | "ignored";

export interface S3Server {
  endpoint: string;
  bucket: string;
  directory: string;
  /** Every object listing the server answered (ListObjects and ListObjectsV2), in order. */
  listings: Array<{ prefix: string; delimiter: string | undefined }>;
  stop(): Promise<void>;
}

/** s3rver's fixed development credentials (it checks signatures against them). */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export async function startS3rver(bucket = "edge-runner-test", delimiterListing: DelimiterListing = "as-s3"): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), "s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  // This server's own store only: the prototype's answer stays as S3's for every other server.
  const store = (server as unknown as { store: FilesystemStore }).store;
  if (delimiterListing === "s3rver") store.listObjects = listObjects;
  if (delimiterListing === "ignored") store.listObjects = (b, options) => listObjects.call(store, b, { ...options, delimiter: undefined });
  const listings: S3Server["listings"] = [];
  const answer = store.listObjects;
  store.listObjects = (b, options) => {
    listings.push({ prefix: options.prefix ?? "", delimiter: options.delimiter === "" ? undefined : options.delimiter });
    return answer.call(store, b, options);
  };
  const address = (await server.run()) as { address: string; port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    directory,
    listings,
    async stop() {
      // Clients keep connections alive; without this close() waits for them to time out.
      (server as unknown as { httpServer?: { closeAllConnections?: () => void } }).httpServer?.closeAllConnections?.();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
