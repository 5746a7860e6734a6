// DeleteObjects sent with Content-MD5, as the S3 API asked for it for a decade. The SDK (since
// 3.729) sends a CRC32 checksum in its place, and S3-compatible stores that still require
// Content-MD5 refuse the request with HTTP 400 (MinIO before it took CRC32: MissingContentMD5
// "Missing required header for this request: Content-Md5"; Alibaba OSS: MissingArgument; Hitachi
// HCP and Zenko CloudServer document it as required), so no prefix was ever deleted there. AWS S3
// takes either. As the SDK's own advice for such stores does (aws-sdk-js-v3
// supplemental-docs/MD5_FALLBACK.md), the CRC32 headers are replaced, not joined.

import { createHash } from "node:crypto";
import type { DeleteObjectsCommand } from "@aws-sdk/client-s3";

/** Makes `command` carry Content-MD5 of its body instead of the SDK's flexible checksum headers; returns it. */
export function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  // Build step, low priority: after the SDK's checksum middleware (build, normal) has set its
  // headers and before the request is signed (finalizeRequest), so the signature covers Content-MD5.
  command.middlewareStack.add((next) => async (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown };
    const body = request.body;
    if (request.headers !== undefined && (typeof body === "string" || body instanceof Uint8Array)) {
      for (const name of Object.keys(request.headers)) {
        const lower = name.toLowerCase();
        if (lower.startsWith("x-amz-checksum-") || lower === "x-amz-sdk-checksum-algorithm" || lower === "content-md5") delete request.headers[name];
      }
      request.headers["content-md5"] = createHash("md5").update(body).digest("base64");
    }
    return next(args);
  }, { step: "build", priority: "low", name: "deleteObjectsContentMd5" });
  return command;
}
