// Multipart uploads against s3rver: a body larger than the part size goes up in parts (the ETag
// of a multipart object ends in "-<parts>"), and an interrupted upload is aborted on the server.
// s3rver does not implement AbortMultipartUpload (it answers 405), so the abort is checked as the
// request the runner sends; AWS and MinIO honour it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { abortStaleUploads, uploadObject } from "../../src/storage/multipart.ts";
import { MIB, patternStream } from "./backends.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

describe("multipart uploads", () => {
  let server: S3Server;
  let client: S3Client;
  beforeAll(async () => {
    server = await startS3rver();
    client = new S3Client({ region: "us-east-1", endpoint: server.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
  });
  afterAll(async () => {
    client.destroy();
    await server.stop();
  });

  function recording(): { client: S3Client; sent: string[] } {
    const sent: string[] = [];
    const spy = { send: (command: object, options?: object) => { sent.push(command.constructor.name); return client.send(command as never, options); } } as unknown as S3Client;
    return { client: spy, sent };
  }

  test("a body of three parts goes up as three parts and one object", async () => {
    const { client: spy, sent } = recording();
    const size = 11 * MIB;
    expect(await uploadObject({ client: spy, bucket: server.bucket, key: "mp/three", partSizeBytes: 5 * MIB, extra: {} }, patternStream(size))).toBe(size);
    expect(sent).toEqual(["CreateMultipartUploadCommand", "UploadPartCommand", "UploadPartCommand", "UploadPartCommand", "CompleteMultipartUploadCommand"]);
    const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: "mp/three" }));
    expect(head.ContentLength).toBe(size);
  });

  test("a body that fits one part is one PutObject", async () => {
    const { client: spy, sent } = recording();
    await uploadObject({ client: spy, bucket: server.bucket, key: "mp/one", partSizeBytes: 5 * MIB, extra: {} }, patternStream(5 * MIB));
    expect(sent).toEqual(["PutObjectCommand"]);
  });

  test("a body that fails mid-upload aborts the multipart upload, even when the job's signal aborted", async () => {
    const { client: spy, sent } = recording();
    let at = 0;
    const abort = new AbortController();
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= 12 * MIB) {
          abort.abort();
          return controller.error(new Error("plugin stream broke"));
        }
        at += MIB;
        controller.enqueue(new Uint8Array(MIB));
      },
    });
    await expect(uploadObject({ client: spy, bucket: server.bucket, key: "mp/broken", partSizeBytes: 5 * MIB, extra: {} }, failing, abort.signal)).rejects.toThrow();
    expect(sent.slice(0, 2)).toEqual(["CreateMultipartUploadCommand", "UploadPartCommand"]);
    expect(sent.at(-1)).toBe("AbortMultipartUploadCommand");
    expect(sent).not.toContain("CompleteMultipartUploadCommand");
  });

  test("the sweep's abort of stale uploads: only old ones whose key is not claimed, across pages; s3rver has none to list", async () => {
    const old = new Date(1_000);
    const young = new Date(9_000);
    const pages = [
      { Uploads: [{ Key: "r/j1/1/a", UploadId: "u1", Initiated: old }, { Key: "r/live/1/a", UploadId: "u2", Initiated: old }], IsTruncated: true, NextKeyMarker: "r/live/1/a", NextUploadIdMarker: "u2" },
      { Uploads: [{ Key: "r/j2/1/b", UploadId: "u3", Initiated: young }, { Key: "r/j3/2/c", UploadId: "u4", Initiated: old }], IsTruncated: false },
    ];
    const sent: Array<[string, Record<string, unknown>]> = [];
    const fake = {
      send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        sent.push([command.constructor.name, command.input]);
        return command.constructor.name === "ListMultipartUploadsCommand" ? pages.shift() : {};
      },
    } as unknown as S3Client;
    expect(await abortStaleUploads(fake, "b", "r/", (upload) => upload.initiated < 5_000 && !upload.key.startsWith("r/live/"))).toBe(2);
    expect(sent.filter(([name]) => name === "AbortMultipartUploadCommand").map(([, input]) => input.UploadId)).toEqual(["u1", "u4"]);
    expect(sent[2]).toEqual(["ListMultipartUploadsCommand", { Bucket: "b", Prefix: "r/", KeyMarker: "r/live/1/a", UploadIdMarker: "u2" }]);
    // s3rver answers NotImplemented for ?uploads: nothing to abort, no error.
    expect(await abortStaleUploads(client, server.bucket, "r/", () => true)).toBe(0);
  });
});
