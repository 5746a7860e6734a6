// `doctor`'s job storage check: skipped on the local backend, passes against s3rver (write, read,
// list, delete under the runner's prefix, nothing left), fails naming the step for unknown credentials.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import type { DoctorContext } from "../../src/ops/doctor/check.ts";
import { objectStorageCheck } from "../../src/ops/doctor/checks/object-storage.ts";
import { createS3Store } from "../../src/storage/s3-store.ts";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "./s3rver.ts";

let s3: S3Server;
let dir: string;
beforeAll(async () => {
  s3 = await startS3rver();
  dir = mkdtempSync(join(tmpdir(), "edge-doctor-storage-"));
});
afterAll(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

function context(flags: string[]): DoctorContext {
  const config = resolveConfig({ argv: ["--runner-id", "r1", "--data-dir", dir, ...flags], env: {}, scopes: ["runner"] }).config;
  return { argv: [], env: {}, readFile: () => "", uid: undefined, timeoutMs: 10_000, state: { config } };
}

function s3Flags(secret: string, accessKeyId = S3RVER_CREDENTIALS.accessKeyId): string[] {
  const file = join(dir, `secret-${secret.length}`);
  writeFileSync(file, secret, { mode: 0o600 });
  return ["--storage-backend", "s3", "--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-force-path-style", "--s3-access-key-id", accessKeyId, "--s3-secret-access-key-file", file];
}

test("the job storage check is skipped on the local backend", async () => {
  expect(await objectStorageCheck.run(context([]))).toMatchObject({ status: "skip" });
});

test("the job storage check passes against s3rver and leaves no probe behind", async () => {
  const result = await objectStorageCheck.run(context(s3Flags(S3RVER_CREDENTIALS.secretAccessKey)));
  expect(result).toMatchObject({ status: "pass", summary: expect.stringContaining(`s3://${s3.bucket}/edge-runner/`) });
  const store = createS3Store({ bucket: s3.bucket, prefix: "edge-runner", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSizeBytes: 8 * 1024 * 1024 });
  const left: string[] = [];
  for await (const info of store.list("")) left.push(info.key);
  await store.close();
  expect(left).toEqual([]);
});

test("the job storage check fails naming the step and the fix for unknown credentials", async () => {
  // s3rver knows one access key id (it does not check the secret's signature); another is refused.
  const result = await objectStorageCheck.run(context(s3Flags("not-the-secret-key", "UNKNOWNKEY")));
  expect(result.status).toBe("fail");
  expect(result.summary).toStartWith("Cannot write a probe object in s3://");
  expect(result.fix).toContain("IAM policy");
  expect(JSON.stringify(result)).not.toContain("not-the-secret-key");
});
