// DeleteObjects went out with the SDK's CRC32 checksum (x-amz-checksum-crc32) and no Content-MD5,
// the header the S3 API required for it until 2025. S3-compatible stores that still require it
// answer HTTP 400 (MissingContentMD5, "Missing required header for this request: Content-Md5":
// aws/aws-sdk-js-v3#6920, aws/aws-sdk-java-v2#5805), so no attempt's prefix was ever deleted there.

import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { contents, scriptedS3 } from "../helpers/scripted-s3.ts";

const md5 = (text: string): string => createHash("md5").update(text).digest("base64");
const missingMd5 = (): Response =>
  new Response(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingContentMD5</Code><Message>Missing required header for this request: Content-Md5.</Message></Error>`, { status: 400, headers: { "content-type": "application/xml" } });

const checksumHeaders: string[][] = [];
const s3 = scriptedS3({
  list: ({ prefix }) => ["a", "b", "c"].map((k) => contents(`${prefix}${k}`)).join(""),
  deleteBatch: (_keys, { headers, body }) => {
    checksumHeaders.push([...headers.keys()].filter((name) => name.startsWith("x-amz-checksum-") || name === "x-amz-sdk-checksum-algorithm"));
    return headers.get("content-md5") === md5(body) ? undefined : missingMd5();
  },
});
afterAll(() => s3.stop());

test("deletePrefix() sends DeleteObjects with the Content-MD5 of its body: a store that requires it deletes the keys", async () => {
  const store = s3.store();
  expect(await store.deletePrefix("r/j/1/")).toBe(3);
  expect(s3.deleted).toEqual(["runs/r/j/1/a", "runs/r/j/1/b", "runs/r/j/1/c"]);
  // In place of the SDK's CRC32 headers, not beside them (the SDK's advice for such stores).
  expect(checksumHeaders).toEqual([[]]);
  await store.close();
});
